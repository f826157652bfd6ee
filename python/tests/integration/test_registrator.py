"""`whisk-registrator` against the real Consul agent and the real Docker engine.

The registrator runs as its own process (``python -m whisk_services.registrator.main``)
with a test-only id prefix (``WHISK_REGISTRATOR_HOSTNAME``), so it owns nothing else in the
agent. Containers publish on 127.0.0.1 only; Consul's HTTP checks reach them there. Every
container carries the project label and this run's label, and is removed at the end.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest
from docker.models.containers import Container

from tests.conftest import REPO_ROOT
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.network import LOOPBACK, free_port
from whisk_testbed.process import ServerProcess

pytestmark = pytest.mark.integration

T = TypeVar("T")
IMAGE = "whisk/runtime-base:bookworm"
RUN = uuid.uuid4().hex[:8]
PREFIX = f"regtest-{RUN}"
LABELS = {"org.whisk.project": "whisk", "org.whisk.test-run": f"registrator-{RUN}"}
READY = "following container events"


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = 30.0) -> T:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = probe()
        if value is not None and value is not False:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Consul:
    def __init__(self, agent: ConsulAgent) -> None:
        self.url = agent.http_address

    def call(self, path: str, method: str = "GET", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            text = response.read()
            return json.loads(text) if text else None

    def services(self) -> dict[str, Any]:
        found: dict[str, Any] = self.call("/v1/agent/services")
        return found

    def health(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call(f"/v1/health/service/{name}")
        return found


@pytest.fixture(scope="module")
def consul(consul_agent: ConsulAgent) -> Consul:
    return Consul(consul_agent)


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    for container in client.containers.list(
        all=True, filters={"label": f"org.whisk.test-run={LABELS['org.whisk.test-run']}"}
    ):
        container.remove(force=True)
    client.close()


class RegistratorProcess:
    def __init__(self, log_path: Path, consul: Consul) -> None:
        self.log_path = log_path
        env = {
            "WHISK_REGISTRATOR_CONSUL_URL": consul.url,
            "WHISK_REGISTRATOR_HOST_IP": LOOPBACK,
            "WHISK_REGISTRATOR_HOSTNAME": PREFIX,
            "WHISK_REGISTRATOR_RESYNC_S": "30",
            "WHISK_REGISTRATOR_LOG_LEVEL": "DEBUG",
        }
        self.process = ServerProcess(
            "registrator",
            [sys.executable, "-m", "whisk_services.registrator.main"],
            log_path,
            cwd=REPO_ROOT / "python",
            env={**os.environ, **env},
        )
        self._offset = 0

    def start(self) -> None:
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process.start(self._ready, deadline_s=30)

    def _ready(self) -> bool:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._offset)
                return READY.encode() in log.read()
        except OSError:
            return False

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture(scope="module")
def registrator(test_logs: Path, consul: Consul) -> Iterator[RegistratorProcess]:
    process = RegistratorProcess(test_logs / "registrator" / "registrator.log", consul)
    process.start()
    yield process
    process.stop()
    for service_id in consul.services():
        if service_id.startswith(f"{PREFIX}:"):
            consul.call(f"/v1/agent/service/deregister/{service_id}", "PUT")


def run_container(
    engine: docker.DockerClient,
    name: str,
    *,
    env: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> tuple[Container, int]:
    port = free_port()
    container = engine.containers.run(
        IMAGE,
        ["python3", "-m", "http.server", "8000"],
        name=f"{PREFIX}-{name}",
        detach=True,
        environment=env or {},
        labels={**LABELS, **(labels or {})},
        ports={"8000/tcp": (LOOPBACK, port)},
    )
    return container, port


def service_id(container: Container) -> str:
    return f"{PREFIX}:{container.name}:8000"


def test_a_declared_container_is_registered_turns_passing_and_leaves_on_stop(
    engine: docker.DockerClient, consul: Consul, registrator: RegistratorProcess
) -> None:
    name = f"web-{uuid.uuid4().hex[:8]}"
    env = {
        "SERVICE_NAME": name,
        "SERVICE_TAGS": "a,b",
        "SERVICE_CHECK_HTTP": "/",
        "SERVICE_CHECK_INTERVAL": "1s",
        "SERVICE_REGION": "loopback",
    }
    container, port = run_container(engine, "web", env=env)
    # issue 6: services appear in and leave Consul's catalog within 2 s of the event
    eventually(lambda: service_id(container) in consul.services(), "registration", 2.0)

    def passing() -> dict[str, Any] | None:
        for entry in consul.health(name):
            checks = [c for c in entry["Checks"] if c.get("ServiceID")]
            if checks and all(c["Status"] == "passing" for c in checks):
                return entry
        return None

    entry = eventually(passing, f"{name} passing")
    service = entry["Service"]
    assert service["ID"] == service_id(container)
    assert (service["Address"], service["Port"], service["Tags"]) == (LOOPBACK, port, ["a", "b"])
    assert service["Meta"] == {"region": "loopback", "whisk-registrator": PREFIX}
    container.stop(timeout=1)  # returns once the container stopped
    eventually(lambda: service_id(container) not in consul.services(), "deregistration", 2.0)
    assert consul.health(name) == []
    container.remove(force=True)


def test_undeclared_and_action_containers_are_never_registered(
    engine: docker.DockerClient, consul: Consul, registrator: RegistratorProcess
) -> None:
    plain, _ = run_container(engine, "plain")
    action, _ = run_container(
        engine,
        "action",
        env={"SERVICE_NAME": f"action-{RUN}"},
        labels={"org.whisk.role": "action"},
    )
    # Events are handled in order: once the witness is registered, the two before it were seen.
    witness, _ = run_container(engine, "witness", env={"SERVICE_NAME": f"witness-{RUN}"})
    eventually(lambda: service_id(witness) in consul.services(), "the witness")
    services = consul.services()
    assert service_id(plain) not in services
    assert service_id(action) not in services
    assert consul.health(f"action-{RUN}") == []
    for container in (plain, action, witness):
        container.remove(force=True)
    eventually(lambda: service_id(witness) not in consul.services(), "the witness to go")


def test_a_restarted_registrator_removes_its_stale_services_only(
    engine: docker.DockerClient, consul: Consul, registrator: RegistratorProcess
) -> None:
    registrator.stop()
    stale = f"{PREFIX}:gone-{RUN}:80"
    foreign = f"other-{RUN}:gone:80"
    for sid in (stale, foreign):
        consul.call(
            "/v1/agent/service/register",
            "PUT",
            {"ID": sid, "Name": f"stale-{RUN}", "Address": LOOPBACK, "Port": 9},
        )
    # A container started while the registrator was down is registered by the resync.
    container, port = run_container(engine, "late", env={"SERVICE_NAME": f"late-{RUN}"})
    registrator.start()
    services = consul.services()
    assert stale not in services
    assert foreign in services
    assert services[service_id(container)]["Port"] == port
    consul.call(f"/v1/agent/service/deregister/{foreign}", "PUT")
    container.remove(force=True)
    eventually(lambda: service_id(container) not in consul.services(), "the late container to go")
