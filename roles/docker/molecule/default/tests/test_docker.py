"""Checks what the docker role gives a user of the host: the engine's units active and enabled,
`docker info` reporting overlay2, json-file logs and live-restore, the API socket root:docker
0660, a container that really runs (from an image made inside the box, no registry), rotated
logs as merged from docker_daemon_options, containers surviving a daemon restart, and the
docker_users account able to use the engine."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hostchecks import assert_unit_runs
from testinfra.host import Host

IMAGE = "whisk-test/coreutils:latest"
SLEEPER = "whisk-test-sleeper"
# /usr/bin/true and /usr/bin/sleep with the two libraries they load: a 3 MB root file system.
TINY_ROOTFS = "usr/bin/true usr/bin/sleep lib64/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/libc.so.6"


def inspect(host: Host, name: str) -> dict[str, Any]:
    """The engine's description of one container or image."""
    result: list[dict[str, Any]] = json.loads(host.check_output(f"docker inspect {name}"))
    return result[0]


@pytest.fixture(scope="module")
def engine(host: Host) -> dict[str, Any]:
    """`docker info` as a dict."""
    info: dict[str, Any] = json.loads(host.check_output("docker info --format '{{json .}}'"))
    return info


@pytest.fixture(scope="module")
def image(host: Host) -> Iterator[str]:
    """A tiny image imported from the box's own files: no registry, no network."""
    host.check_output(
        f"tar -C / -ch {TINY_ROOTFS}"
        f" | docker import --change 'LABEL org.whisk.project=whisk' - {IMAGE}"
    )
    yield IMAGE
    host.run(f"docker image rm -f {IMAGE}")


@pytest.fixture(scope="module")
def sleeper(host: Host, image: str) -> Iterator[str]:
    """A long-running container of the tiny image."""
    host.check_output(f"docker run -d --name {SLEEPER} {image} /usr/bin/sleep 300")
    yield SLEEPER
    host.run(f"docker rm -f {SLEEPER}")


@pytest.mark.parametrize("unit", ["containerd.service", "docker.socket", "docker.service"])
def test_unit_active_and_enabled(host: Host, unit: str) -> None:
    assert_unit_runs(host, unit)


@pytest.mark.parametrize(
    ("field", "expected"),
    [("Driver", "overlay2"), ("LoggingDriver", "json-file"), ("LiveRestoreEnabled", True)],
)
def test_engine_settings(engine: dict[str, Any], field: str, expected: object) -> None:
    assert engine[field] == expected


def test_api_socket_is_root_docker_0660(host: Host) -> None:
    sock = host.file("/run/docker.sock")
    assert sock.is_socket
    assert (sock.user, sock.group, sock.mode) == ("root", "docker", 0o660)


def test_container_runs(host: Host, image: str) -> None:
    assert host.run(f"docker run --rm {image} /usr/bin/true").rc == 0
    assert host.run(f"docker run --rm {image} /usr/bin/sleep nonsense").rc != 0


def test_container_logs_rotated_as_merged(host: Host, sleeper: str) -> None:
    """max-size comes from the scenario's docker_daemon_options, max-file from the defaults."""
    wanted = host.ansible.get_variables()["docker_daemon_options"]["log-opts"]["max-size"]
    log_config = inspect(host, sleeper)["HostConfig"]["LogConfig"]
    assert log_config == {"Type": "json-file", "Config": {"max-size": wanted, "max-file": "3"}}


def test_container_survives_daemon_restart(host: Host, sleeper: str) -> None:
    before = inspect(host, sleeper)["State"]
    host.check_output("systemctl restart docker.service")
    after = inspect(host, sleeper)["State"]
    assert after["Running"]
    assert after["Pid"] == before["Pid"]


def test_docker_user_reaches_the_engine(host: Host) -> None:
    assert "docker" in host.user("whiskop").groups
    version = host.run("runuser -u whiskop -- docker version --format '{{.Server.Version}}'")
    assert version.rc == 0, version.stderr
    assert version.stdout.strip().startswith("20.10")
