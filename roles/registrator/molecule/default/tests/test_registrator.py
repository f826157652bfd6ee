"""The registrator role's default scenario, seen from the box: the registrator runs as a
container under its hardened unit, its settings file is private, read by the unit and handed
into the container with every character of a value intact, and a container started with a
published port and SERVICE_NAME appears in Consul's catalog at the box's address, and leaves
it when it stops."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hostchecks import (
    CONFINED,
    assert_unit_follows,
    assert_unit_properties,
    assert_unit_runs,
    http_get,
)
from testinfra.host import Host

HTTP = "http://127.0.0.1:8500"
IMAGE = "whisk/registrator:0.1.0"
UNIT = "whisk-registrator"
# What the scenario's inventory sets as the setting MOLECULE_PROBE.
PROBE = ' it\'s "quoted" $HOME back\\slash 100% %n `id` # ; '


@pytest.fixture(scope="module")
def address(host: Host) -> str:
    """The box's cluster address: its default route's source address, as Ansible finds it
    (no whisk_address here)."""
    route = host.check_output("ip -4 -o route get 192.0.2.1").split()
    return route[route.index("src") + 1]


def catalog(host: Host, service: str) -> list[dict[str, Any]]:
    """The catalog's entries for ``service``, asked of the box's Consul agent."""
    entries: list[dict[str, Any]] = json.loads(
        http_get(host, f"{HTTP}/v1/catalog/service/{service}")
    )
    return entries


def wait_for(host: Host, service: str, *, present: bool) -> list[dict[str, Any]]:
    """The catalog's entries for ``service`` once it is (or is no longer) there, 30 s at most."""
    deadline = time.monotonic() + 30
    while True:
        entries = catalog(host, service)
        if bool(entries) == present or time.monotonic() > deadline:
            return entries
        time.sleep(1)


@pytest.fixture
def web(host: Host) -> Iterator[str]:
    """A container publishing port 8080 as 18080 with SERVICE_NAME set; its service name."""
    name = f"molecule-web-{uuid.uuid4().hex[:8]}"
    host.check_output(
        f"docker run -d --name {name} --label org.whisk.project=whisk -p 18080:8080 "
        f"-e SERVICE_NAME={name} -e SERVICE_TAGS=molecule --entrypoint python3 {IMAGE} "
        "-m http.server 8080"
    )
    try:
        yield name
    finally:
        host.run(f"docker rm --force {name}")


def test_registrator_running_and_enabled(host: Host) -> None:
    assert_unit_runs(host, UNIT)


def test_container_runs_the_image(host: Host) -> None:
    inspect = json.loads(host.check_output("docker inspect whisk-registrator"))[0]
    assert inspect["Config"]["Image"] == IMAGE
    assert inspect["State"]["Running"] is True
    assert inspect["HostConfig"]["NetworkMode"] == "host"
    assert inspect["HostConfig"]["ReadonlyRootfs"] is True
    assert inspect["HostConfig"]["CapDrop"] == ["ALL"]


def test_settings_file_is_private(host: Host) -> None:
    settings = host.file("/etc/whisk/registrator.env")
    assert (settings.mode, settings.user, settings.group) == (0o640, "root", "root")


def test_unit_reads_the_settings_file(host: Host) -> None:
    properties = host.service(UNIT).systemd_properties
    # Not ignore_errors: a missing file fails the start instead of starting without settings.
    assert properties["EnvironmentFiles"] == "/etc/whisk/registrator.env (ignore_errors=no)"
    # Each value is handed into the container by name, never on the command line.
    assert "--env WHISK_REGISTRATOR_MOLECULE_PROBE " in properties["ExecStart"]
    assert "quoted" not in properties["ExecStart"]


def test_a_value_arrives_unchanged(host: Host) -> None:
    # The environment of the container's first process, read from the box (JSON keeps every
    # character of the value as it is).
    pid = host.check_output("docker inspect --format '{{.State.Pid}}' whisk-registrator")
    assert int(pid) > 0
    read = (
        "import json, sys; entries = open(sys.argv[1], 'rb').read().decode().split(chr(0)); "
        "print(json.dumps(dict(e.split('=', 1) for e in entries if e).get(sys.argv[2])))"
    )
    name = "WHISK_REGISTRATOR_MOLECULE_PROBE"
    answer = host.check_output(f'python3 -c "{read}" /proc/{pid}/environ {name}')
    assert json.loads(answer) == PROBE


def test_unit_is_hardened(host: Host) -> None:
    assert_unit_properties(host, UNIT, {**CONFINED, "Restart": "on-failure"})


def test_unit_requires_docker(host: Host) -> None:
    assert_unit_follows(host, UNIT, "docker.service")


def test_published_container_is_registered_then_deregistered(
    host: Host, address: str, web: str
) -> None:
    entries = wait_for(host, web, present=True)
    assert [(e["ServiceAddress"], e["ServicePort"], e["ServiceTags"]) for e in entries] == [
        (address, 18080, ["molecule"])
    ]
    host.check_output(f"docker stop {web}")
    assert wait_for(host, web, present=False) == []
