"""The consul role's acl scenario, seen from the box: with ACLs on and default_policy deny,
a request without a token is refused, the management token is accepted, and the agent token
the role created exists, carries the whisk-agent policy and nothing more."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hostchecks import uri
from testinfra.host import Host

HTTP = "http://127.0.0.1:8500"
MANAGEMENT = "9b54c162-7840-4e8d-a189-9b8b7c957200"
AGENT = "67994144-a4e4-4582-b716-e9a33487beca"


def api(
    host: Host, path: str, token: str | None, method: str = "GET", body: str | None = None
) -> dict[str, Any]:
    """One request to the agent's HTTP API, made on the box; the uri module's answer."""
    headers = None if token is None else {"X-Consul-Token": token}
    return uri(
        host, f"{HTTP}{path}", method=method, body=body, headers=headers, status_code=[200, 403]
    )


@pytest.fixture(scope="module")
def written(host: Host) -> None:
    """A key written with the management token, which a request without one must not read."""
    assert api(host, "/v1/kv/molecule/written", MANAGEMENT, method="PUT", body="v")["status"] == 200


def test_consul_running(host: Host) -> None:
    assert host.service("consul").is_running


def test_leader_elected(host: Host) -> None:
    assert api(host, "/v1/status/leader", None)["json"].endswith(":8300")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/kv/molecule/written"), ("PUT", "/v1/kv/anonymous"), ("GET", "/v1/agent/self")],
)
@pytest.mark.usefixtures("written")
def test_no_token_is_refused(host: Host, method: str, path: str) -> None:
    assert (
        api(host, path, None, method=method, body="x" if method == "PUT" else None)["status"] == 403
    )


def test_management_token_reads_and_writes(host: Host) -> None:
    key = f"molecule/{uuid.uuid4()}"
    assert api(host, f"/v1/kv/{key}", MANAGEMENT, method="PUT", body="v")["status"] == 200
    got = api(host, f"/v1/kv/{key}?raw", MANAGEMENT)
    assert (got["status"], got["content"]) == (200, "v")


def test_default_policy_is_deny(host: Host) -> None:
    config = api(host, "/v1/agent/self", MANAGEMENT)["json"]["DebugConfig"]
    assert config["ACLResolverSettings"]["ACLsEnabled"] is True
    assert config["ACLResolverSettings"]["ACLDefaultPolicy"] == "deny"


def test_agent_token_has_the_agent_policy(host: Host) -> None:
    token = api(host, "/v1/acl/token/self", AGENT)
    assert token["status"] == 200
    assert [policy["Name"] for policy in token["json"]["Policies"]] == ["whisk-agent"]


def test_agent_token_cannot_write_kv(host: Host) -> None:
    assert api(host, "/v1/kv/agent", AGENT, method="PUT", body="x")["status"] == 403


def test_node_in_the_catalog(host: Host) -> None:
    node = host.backend.get_hostname()
    answer = api(host, f"/v1/catalog/node/{node}", MANAGEMENT)
    assert answer["status"] == 200
    assert answer["json"]["Node"]["Node"] == node


def test_tokens_file_is_not_world_readable(host: Host) -> None:
    config = host.file("/etc/consul.d/consul.hcl")
    assert (config.mode, config.user, config.group) == (0o640, "root", "consul")
    assert AGENT in config.content_string
