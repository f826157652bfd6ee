"""The consul role's default scenario, seen from the box: one server that elected itself
leader, its HTTP API and DNS on loopback only, serf and RPC on the box's address, gossip
encrypted, the KV store answering, and the agent confined by its systemd unit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hostchecks import (
    SANDBOXED,
    assert_unit_properties,
    assert_unit_runs,
    default_address,
    listening,
    uri,
)
from testinfra.host import Host

HTTP = "http://127.0.0.1:8500"


@pytest.fixture(scope="module")
def address(host: Host) -> str:
    """The box's cluster address (its default IPv4 address: no whisk_address here)."""
    return default_address(host)


def api(host: Host, path: str, method: str = "GET", body: str | None = None) -> dict[str, Any]:
    """One request to the agent's HTTP API, made on the box; the uri module's answer."""
    return uri(host, f"{HTTP}{path}", method=method, body=body)


def test_consul_running_and_enabled(host: Host) -> None:
    assert_unit_runs(host, "consul")


def test_consul_runs_as_consul(host: Host) -> None:
    processes = host.process.filter(comm="consul")
    assert processes
    assert {process.user for process in processes} == {"consul"}


@pytest.mark.parametrize("field", ["CapEff", "CapBnd", "NoNewPrivs"])
def test_consul_has_no_capabilities(host: Host, field: str) -> None:
    pid = host.check_output("systemctl show consul --property MainPID --value")
    status = host.file(f"/proc/{pid}/status").content_string.splitlines()
    values = [line.split()[1] for line in status if line.startswith(f"{field}:")]
    assert values == ["1" if field == "NoNewPrivs" else "0000000000000000"]


def test_binary_is_the_pinned_version(host: Host) -> None:
    link = host.file("/usr/local/bin/consul")
    assert link.is_symlink
    assert link.linked_to == "/opt/consul/1.14.11/consul"
    assert host.check_output("consul version").splitlines()[0] == "Consul v1.14.11"


@pytest.mark.parametrize(
    ("path", "mode", "user", "group"),
    [
        ("/etc/consul.d", 0o750, "root", "consul"),
        ("/etc/consul.d/consul.hcl", 0o640, "root", "consul"),
        ("/var/lib/consul", 0o750, "consul", "consul"),
        ("/opt/consul/1.14.11/consul", 0o755, "root", "root"),
    ],
)
def test_file_modes(host: Host, path: str, mode: int, user: str, group: str) -> None:
    target = host.file(path)
    assert target.exists
    assert target.mode == mode
    assert target.user == user
    assert target.group == group


def test_unit_is_hardened(host: Host) -> None:
    expected = {
        **SANDBOXED,
        "Type": "notify",
        "User": "consul",
        "Restart": "on-failure",
        "MemoryDenyWriteExecute": "yes",
        "ProtectKernelModules": "yes",
    }
    assert_unit_properties(host, "consul", expected)


def test_leader_elected(host: Host, address: str) -> None:
    answer = api(host, "/v1/status/leader")
    assert answer["status"] == 200
    assert answer["json"] == f"{address}:8300"


@pytest.mark.parametrize(("protocol", "port"), [("tcp", "8500"), ("tcp", "8600"), ("udp", "8600")])
def test_api_and_dns_on_loopback_only(host: Host, protocol: str, port: str) -> None:
    assert listening(host, port, protocol) == [f"{protocol}://127.0.0.1:{port}"]


@pytest.mark.parametrize(
    ("protocol", "port"),
    [("tcp", "8300"), ("tcp", "8301"), ("udp", "8301"), ("tcp", "8302"), ("udp", "8302")],
)
def test_cluster_ports_on_cluster_address_only(
    host: Host, address: str, protocol: str, port: str
) -> None:
    assert listening(host, port, protocol) == [f"{protocol}://{address}:{port}"]


def test_node_is_an_alive_server_member(host: Host, address: str) -> None:
    rows = [line.split() for line in host.check_output("consul members").splitlines()[1:]]
    node = host.backend.get_hostname()
    assert [row[:4] for row in rows] == [[node, f"{address}:8301", "alive", "server"]]


def test_kv_put_then_get(host: Host) -> None:
    key = f"molecule/{uuid.uuid4()}"
    value = f"value-{uuid.uuid4()}"
    put = api(host, f"/v1/kv/{key}", method="PUT", body=value)
    assert put["status"] == 200
    assert put["content"].strip() == "true"
    got = api(host, f"/v1/kv/{key}?raw")
    assert got["status"] == 200
    assert got["content"] == value


@pytest.mark.parametrize("pool", ["serf_lan", "serf_wan"])
def test_gossip_is_encrypted(host: Host, pool: str) -> None:
    stats = api(host, "/v1/agent/self")["json"]["Stats"]
    assert stats[pool]["encrypted"] == "true"


def test_update_check_is_off(host: Host) -> None:
    config = api(host, "/v1/agent/self")["json"]["DebugConfig"]
    assert config["DisableUpdateCheck"] is True
