"""Consul on every host: the agent runs hardened, its HTTP API answers on loopback only,
every node is an alive member, the servers elected a leader, gossip is encrypted and the
file holding the key is not world-readable.
"""

from __future__ import annotations

import json
from typing import Any

from conftest import address
from hostchecks import assert_unit_hardened, assert_unit_runs, http_get, listeners

testinfra_hosts = ["ansible://consul"]


def api(host: Any, path: str) -> Any:
    return json.loads(http_get(host, f"http://127.0.0.1:8500{path}", timeout=5))


def test_agent_runs_hardened(host: Any) -> None:
    assert_unit_runs(host, "consul.service")
    assert_unit_hardened(host, "consul.service")


def test_http_api_on_loopback_only_and_serf_on_the_cluster_address(host: Any) -> None:
    assert listeners(host, 8500) == {"127.0.0.1"}
    assert listeners(host, 8301) == {address(host.ansible.get_variables())}


def test_every_node_is_an_alive_member(host: Any) -> None:
    members = {member["Name"]: member["Status"] for member in api(host, "/v1/agent/members")}
    nodes = host.ansible.get_variables()["groups"]["consul"]
    assert members == dict.fromkeys(nodes, 1)  # serf status 1 = alive


def test_the_servers_have_a_leader(host: Any) -> None:
    servers = host.ansible.get_variables()["groups"]["consul_servers"]
    assert api(host, "/v1/status/leader")
    assert len(api(host, "/v1/status/peers")) == len(servers)


def test_gossip_is_encrypted(host: Any) -> None:
    assert api(host, "/v1/agent/self")["Stats"]["serf_lan"]["encrypted"] == "true"


def test_config_holding_the_key_is_private(host: Any) -> None:
    config = host.file("/etc/consul.d/consul.hcl")
    assert config.exists
    assert config.mode & 0o007 == 0
    assert config.user == "root"
    assert config.group == "consul"
