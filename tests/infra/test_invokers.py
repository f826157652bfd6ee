"""The invokers: each a container under a hardened unit that follows Docker's, registered
healthy in Consul at its address and port, with its action network in place (an internal
bridge on the configured subnet whose containers the host's firewall drops).
"""

from __future__ import annotations

import json
from typing import Any

from conftest import address, instance, role_default
from hostchecks import (
    CONFINED,
    assert_unit_follows,
    assert_unit_hardened,
    assert_unit_properties,
    assert_unit_runs,
    http_get,
)

testinfra_hosts = ["ansible://invokers"]


def name(host: Any) -> str:
    """This host's invoker, `invoker<N>`, after which its unit and service are named."""
    return f"invoker{instance(host, 'invokers')}"


def unit(host: Any) -> str:
    return f"whisk-{name(host)}.service"


def test_unit_runs_hardened(host: Any) -> None:
    assert_unit_runs(host, unit(host))
    assert_unit_hardened(host, unit(host), user=False)
    expected = {
        **CONFINED,
        "ProtectHome": "tmpfs",
        "Restart": "on-failure",
        # Room for the running activations to finish (their limit is at most 300 s).
        "TimeoutStopUSec": "6min",
    }
    assert_unit_properties(host, unit(host), expected)


def test_unit_follows_docker(host: Any) -> None:
    assert_unit_follows(host, unit(host), "docker.service")


def test_settings_file_is_private(host: Any) -> None:
    settings = host.file(f"/etc/whisk/{name(host)}.env")
    assert (settings.mode, settings.user, settings.group) == (0o640, "root", "root")


def test_registered_passing_in_consul_at_its_address(host: Any) -> None:
    fetched = http_get(host, "http://127.0.0.1:8500/v1/health/service/invoker?passing=true", 5)
    passing = {
        entry["Service"]["ID"]: (entry["Service"]["Address"], entry["Service"]["Port"])
        for entry in json.loads(fetched)
    }
    expected = (address(host.ansible.get_variables()), 12001 + instance(host, "invokers"))
    assert passing.get(name(host)) == expected, passing


def test_runtime_images_are_loaded(host: Any) -> None:
    for image in ("whisk/action-python:3.11", "whisk/action-nodejs:18"):
        assert host.run(f"docker image inspect {image}").rc == 0, image


def test_action_network_is_internal_on_its_subnet(host: Any) -> None:
    variables = host.ansible.get_variables()
    subnet = variables.get(
        "invoker_network_subnet", role_default("invoker", "invoker_network_subnet")
    )
    bridge = variables.get(
        "invoker_network_bridge", role_default("invoker", "invoker_network_bridge")
    )
    network = json.loads(host.check_output("docker network inspect whisk-actions"))[0]
    assert network["Internal"] is True
    assert [config["Subnet"] for config in network["IPAM"]["Config"]] == [subnet]
    assert network["Options"]["com.docker.network.bridge.name"] == bridge


def test_action_network_is_fenced_off_the_host(host: Any) -> None:
    network = json.loads(host.check_output("docker network inspect whisk-actions"))[0]
    bridge = network["Options"]["com.docker.network.bridge.name"]
    chain = f"WHISK-{bridge.upper()}"
    with host.sudo():
        jump = host.run(f"iptables -C INPUT -i {bridge} -j {chain}")
        rules = host.check_output(f"iptables -S {chain}")
    assert jump.rc == 0, jump.stderr
    assert rules.splitlines()[-1] == f"-A {chain} -j DROP"
