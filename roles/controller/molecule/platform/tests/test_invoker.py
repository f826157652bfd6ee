"""The invoker role in the platform scenario, seen from the box: its unit active, enabled and
sandboxed, registered healthy in Consul, its action network on the configured subnet and
fenced off the host by its iptables chain (its settings: test_settings.py)."""

from __future__ import annotations

import json

from conftest import CONSUL, request
from hostchecks import CONFINED, assert_unit_follows, assert_unit_properties, assert_unit_runs
from testinfra.host import Host

UNIT = "whisk-invoker0.service"


def test_invoker_running_and_enabled(host: Host) -> None:
    assert_unit_runs(host, UNIT)


def test_invoker_unit_is_hardened(host: Host) -> None:
    expected = {
        **CONFINED,
        "ProtectHome": "tmpfs",
        "Restart": "on-failure",
        # Room for the running activations to finish (their limit is at most 300 s).
        "TimeoutStopUSec": "6min",
    }
    assert_unit_properties(host, UNIT, expected)


def test_invoker_unit_follows_docker(host: Host) -> None:
    assert_unit_follows(host, UNIT, "docker.service")


def test_invoker_is_healthy_in_consul(host: Host, address: str) -> None:
    answer = request(host, f"{CONSUL}/v1/health/service/invoker?passing")
    assert answer["status"] == 200
    services = [entry["Service"] for entry in answer["json"]]
    assert [(s["ID"], s["Address"], s["Port"]) for s in services] == [("invoker0", address, 12001)]


def test_action_network_has_its_subnet(host: Host) -> None:
    network = json.loads(host.check_output("docker network inspect whisk-actions"))[0]
    assert [c["Subnet"] for c in network["IPAM"]["Config"]] == ["172.31.240.0/24"]
    assert network["Options"]["com.docker.network.bridge.name"] == "whiskact0"
    assert network["Internal"] is True


def test_action_network_is_fenced_off_the_host(host: Host) -> None:
    with host.sudo():
        jump = host.run("iptables -C INPUT -i whiskact0 -j WHISK-WHISKACT0")
        chain = host.check_output("iptables -S WHISK-WHISKACT0")
    assert jump.rc == 0
    assert chain.splitlines()[-1] == "-A WHISK-WHISKACT0 -j DROP"
