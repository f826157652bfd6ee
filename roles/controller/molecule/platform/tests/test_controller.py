"""The controller role in the platform scenario, seen from the box: its unit active, enabled
and sandboxed, its API on the cluster address only, the guest's key accepted, and an action
created and run through it end to end (its settings: test_settings.py)."""

from __future__ import annotations

from conftest import CONTROLLER_PORT, request
from hostchecks import (
    CONFINED,
    assert_unit_follows,
    assert_unit_properties,
    assert_unit_runs,
    listening,
)
from testinfra.host import Host

UNIT = "whisk-controller0.service"


def test_controller_running_and_enabled(host: Host) -> None:
    assert_unit_runs(host, UNIT)


def test_controller_unit_is_hardened(host: Host) -> None:
    expected = {**CONFINED, "ProtectHome": "tmpfs", "Restart": "on-failure"}
    assert_unit_properties(host, UNIT, expected)


def test_controller_unit_follows_docker(host: Host) -> None:
    assert_unit_follows(host, UNIT, "docker.service")


def test_controller_runs_as_whisk_without_capabilities(host: Host) -> None:
    config = host.check_output(
        "docker inspect --format '{{.Config.User}} {{.HostConfig.CapDrop}}' whisk-controller0"
    )
    assert config == "whisk [ALL]"


def test_controller_listens_on_the_cluster_address_only(host: Host, address: str) -> None:
    ports = listening(host, CONTROLLER_PORT, "tcp")
    assert ports == [f"tcp://{address}:{CONTROLLER_PORT}"]


def test_controller_answers_ping(host: Host, controller: str) -> None:
    answer = request(host, f"{controller}/ping")
    assert answer["status"] == 200
    assert answer["content"] == "pong"


def test_controller_refuses_a_wrong_key(
    host: Host, controller: str, guest: tuple[str, str]
) -> None:
    answer = request(host, f"{controller}/api/v1/namespaces", auth=(guest[0], "x" * 64))
    assert answer["status"] == 401


def test_controller_accepts_the_guest(host: Host, controller: str, guest: tuple[str, str]) -> None:
    answer = request(host, f"{controller}/api/v1/namespaces", auth=guest)
    assert answer["status"] == 200
    assert answer["json"] == ["guest"]


def test_a_python_action_runs(host: Host, controller: str, guest: tuple[str, str]) -> None:
    action = f"{controller}/api/v1/namespaces/guest/actions/hello"
    code = "def main(a): return {'msg':'hi'}"
    body = {"exec": {"kind": "python:3.11", "code": code}}
    created = request(host, f"{action}?overwrite=true", method="PUT", body=body, auth=guest)
    assert created["status"] == 200, created["content"]
    invoke = f"{action}?blocking=true&result=true"
    ran = request(host, invoke, method="POST", body={}, auth=guest, timeout=90)
    assert ran["status"] == 200, ran["content"]
    assert ran["json"] == {"msg": "hi"}
