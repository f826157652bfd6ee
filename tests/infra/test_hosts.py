"""Every host of the cluster: systemd booted with no failed unit, and the hosts reach each
other's cluster addresses on the ports the platform uses between them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import address

testinfra_hosts = ["ansible://all"]

# (group whose hosts serve, port) pairs every host must reach: Kafka's brokers, ZooKeeper,
# Consul's serf LAN and server RPC, CouchDB.
PATHS = [("kafkas", 9092), ("zookeepers", 2181), ("consul", 8301), ("consul_servers", 8300)]


def test_systemd_is_running_with_no_failed_unit(host: Any) -> None:
    assert host.run("systemctl is-system-running").stdout.strip() == "running", host.run(
        "systemctl --failed --no-legend"
    ).stdout


@pytest.mark.parametrize(("group", "port"), PATHS, ids=[f"{g}:{p}" for g, p in PATHS])
def test_reaches_every_peer_of_the_group(
    host: Any, hostvars: Callable[[str], dict[str, Any]], group: str, port: int
) -> None:
    peers = host.ansible.get_variables()["groups"][group]
    assert peers, f"group {group} is empty"
    unreachable = [
        peer for peer in peers if not host.addr(address(hostvars(peer))).port(port).is_reachable
    ]
    assert unreachable == []


def test_invokers_and_controllers_reach_couchdb(
    host: Any, hostvars: Callable[[str], dict[str, Any]]
) -> None:
    variables = host.ansible.get_variables()
    if not {"controllers", "invokers"} & set(variables["group_names"]):
        assert not host.service("docker.service").is_running
        return
    couchdb = address(hostvars(variables["groups"]["couchdb"][0]))
    assert host.addr(couchdb).port(5984).is_reachable
