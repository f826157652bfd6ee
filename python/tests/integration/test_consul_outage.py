"""Consul as a runtime dependency that may go away: a private Consul agent (this module's
own, on a fixed port so it can be stopped and started again), controller 24, invokers 24 and
25 (TTL 2 s) and a registrator with one declared container.

* Draining an invoker loses nothing it runs: activations in flight on it complete.
* The throttle defaults follow Consul KV (``wskadmin config set-throttles``) live.
* Consul stopped for 30 s: blocking invokes keep succeeding on both known invokers. Started
  again (in dev mode it remembers nothing), every owner registers again within ~10 s, and
  the controller follows the registry and its KV again, with no process restarted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from tests.conftest import REPO_ROOT
from tests.integration import cluster_support
from tests.integration.cluster_support import ConsulCluster, Layout, eventually, network_of
from tests.integration.servers import serve
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.kafka import KafkaBroker
from whisk_testbed.network import LOOPBACK, free_port
from whisk_testbed.process import ServerProcess

pytestmark = pytest.mark.integration

DB_PREFIX = "outage_"
CONTROLLER = 24
INVOKERS = (24, 25)
TTL_S = 2.0
OUTAGE_S = 30.0
BACK_WITHIN_S = 10.0
NETWORKS = {
    24: ("whisk-test-outage24", "172.31.236.0/25", "whisktdou0"),
    25: ("whisk-test-outage25", "172.31.236.128/25", "whisktdou1"),
}
RUN = uuid.uuid4().hex[:8]
PREFIX = f"outagetest-{RUN}"
IMAGE = "whisk/runtime-base:bookworm"
LABELS = {"org.whisk.project": "whisk", "org.whisk.test-run": f"outage-{RUN}"}
SERVICE = f"outage-web-{RUN}"
LAYOUT = Layout(CONTROLLER, NETWORKS, DB_PREFIX, "out", TTL_S)
homed = partial(cluster_support.homed, INVOKERS)


class Bed(ConsulCluster):
    def __init__(
        self, workdir: Path, couchdb: CouchDBServer, kafka: KafkaBroker, consul: ConsulAgent
    ) -> None:
        super().__init__(workdir, couchdb, kafka, consul, LAYOUT)
        self.agent = consul
        self.registrator: ServerProcess | None = None
        self.container: Container | None = None

    def invoker_dir(self, instance: int) -> Path:
        return self.workdir / f"invoker{instance}"

    def start_registrator(self) -> None:
        log_path = self.workdir / "registrator" / "registrator.log"
        env = {
            "WHISK_REGISTRATOR_CONSUL_URL": self.consul_url,
            "WHISK_REGISTRATOR_HOST_IP": LOOPBACK,
            "WHISK_REGISTRATOR_HOSTNAME": PREFIX,
            "WHISK_REGISTRATOR_RESYNC_S": "2",
        }
        self.registrator = ServerProcess(
            "registrator",
            [sys.executable, "-m", "whisk_services.registrator.main"],
            log_path,
            cwd=REPO_ROOT / "python",
            env={**os.environ, **env},
        )

        def ready() -> bool:
            try:
                return b"following container events" in log_path.read_bytes()
            except OSError:
                return False

        self.registrator.start(ready, deadline_s=30)

    def start_container(self, engine: docker.DockerClient) -> None:
        self.container = engine.containers.run(
            IMAGE,
            ["python3", "-m", "http.server", "8000"],
            name=f"{PREFIX}-web",
            detach=True,
            environment={
                "SERVICE_NAME": SERVICE,
                "SERVICE_CHECK_HTTP": "/",
                "SERVICE_CHECK_INTERVAL": "1s",
            },
            labels=LABELS,
            ports={"8000/tcp": (LOOPBACK, free_port())},
        )

    def service_passing(self) -> bool:
        try:
            entries: list[dict[str, Any]] = self.consul.call(f"/v1/health/service/{SERVICE}")
        except OSError:
            return False
        checks = [c for e in entries for c in e["Checks"] if c.get("ServiceID")]
        return bool(checks) and all(c["Status"] == "passing" for c in checks)

    def invokers_passing(self) -> bool:
        try:
            return self.consul.health() == {f"invoker{n}": "passing" for n in INVOKERS}
        except OSError:
            return False

    def wskadmin(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = super().wskadmin(*args)
        assert result.returncode == 0, result.stderr
        return result

    def ran_on(self, action: str) -> int:
        response = self.invoke(action)
        assert response.status_code == 200, response.text
        return where(response.json()["response"]["result"])


def where(result: dict[str, Any]) -> int:
    return network_of(NETWORKS, result["ip"])


@pytest.fixture(scope="module")
def private_consul(test_logs: Path) -> Iterator[ConsulAgent]:
    yield from serve(ConsulAgent(test_logs / "outage" / "consul", http_port=free_port()))


@pytest.fixture(scope="module")
def bed(
    test_logs: Path,
    couchdb: CouchDBServer,
    kafka_broker: KafkaBroker,
    private_consul: ConsulAgent,
) -> Iterator[Bed]:
    bed = Bed(test_logs / "outage", couchdb, kafka_broker, private_consul)
    engine = docker.from_env()
    try:
        bed.start_controller()
        for n in INVOKERS:
            bed.start_invoker(n)
        bed.start_registrator()
        bed.start_container(engine)
        yield bed
    finally:
        if bed.registrator is not None:
            bed.registrator.stop()
        bed.stop()
        for container in engine.containers.list(
            all=True, filters={"label": f"org.whisk.test-run={LABELS['org.whisk.test-run']}"}
        ):
            container.remove(force=True)
        bed.remove_containers(engine)
        engine.close()


def test_everything_registers_and_passes(bed: Bed) -> None:
    eventually(bed.invokers_passing, "both invokers passing")
    eventually(bed.service_passing, "the container's service passing")
    for n in INVOKERS:
        action = homed("where", n)
        bed.put_action(action)
        eventually(lambda a=action, n=n: bed.ran_on(a) == n, f"invoker {n} in use", 60)  # type: ignore[misc]


def test_a_drain_loses_nothing_in_flight(bed: Bed) -> None:
    sleepy = homed("sleepy", 25)
    bed.put_action(sleepy)
    assert bed.guest is not None
    started = []
    for _ in range(3):
        response = bed.guest.call("POST", f"/namespaces/_/actions/{sleepy}", json={"sleep": 3})
        assert response.status_code == 202, response.text
        started.append(str(response.json()["activationId"]))
    time.sleep(0.5)
    bed.wskadmin("invoker", "drain", "25")
    try:
        records = [
            eventually(lambda a=a: bed.record(a), f"the record of {a}", 60)  # type: ignore[misc]
            for a in started
        ]
        for record in records:
            assert record["response"]["success"] is True, record
            assert record["response"]["status"] == "success", record
            assert where(record["response"]["result"]) == 25, record
        eventually(lambda: bed.ran_on(sleepy) == 24, "the drained invoker skipped")
        assert {bed.ran_on(sleepy) for _ in range(3)} == {24}
    finally:
        bed.wskadmin("invoker", "undrain", "25")
    eventually(lambda: bed.ran_on(sleepy) == 25, "invoker 25 undrained")


def test_throttle_defaults_follow_consul_kv(bed: Bed) -> None:
    action = homed("where", 24)
    assert bed.invoke(action).status_code == 200
    bed.wskadmin("config", "set-throttles", "--invocationsPerMinute", "0")
    shown = bed.wskadmin("config", "show").stdout
    assert '"invocationsPerMinute": 0' in shown, shown
    try:
        eventually(lambda: bed.invoke(action).status_code == 429, "the KV throttle applied", 10)
    finally:
        bed.wskadmin("config", "unset-throttles")
    eventually(lambda: bed.invoke(action).status_code == 200, "the env throttle back", 10)


def test_a_consul_outage_stops_nothing_and_everything_comes_back(bed: Bed) -> None:
    on = {n: homed("where", n) for n in INVOKERS}
    eventually(bed.invokers_passing, "both invokers passing")
    assert bed.registrator is not None
    owners = [p.process for p in (bed.controller, *bed.invokers.values())] + [bed.registrator]
    pids = [p.pid for p in owners if p is not None]
    bed.agent.stop()
    end = time.monotonic() + OUTAGE_S
    counts = dict.fromkeys(INVOKERS, 0)
    while time.monotonic() < end:
        for n, action in on.items():
            assert bed.ran_on(action) == n
            counts[n] += 1
        time.sleep(0.2)
    assert all(counts.values()), counts
    bed.agent.start()
    back = time.monotonic()
    eventually(bed.invokers_passing, "both invokers registered again", BACK_WITHIN_S)
    eventually(bed.service_passing, "the container's service again", BACK_WITHIN_S + 2)
    assert time.monotonic() - back <= BACK_WITHIN_S + 2
    for n, action in on.items():
        assert bed.ran_on(action) == n
    # The controller follows the restarted agent's KV again.
    bed.wskadmin("config", "set-throttles", "--invocationsPerMinute", "0")
    try:
        eventually(lambda: bed.invoke(on[24]).status_code == 429, "KV followed again", 10)
    finally:
        bed.wskadmin("config", "unset-throttles")
    eventually(lambda: bed.invoke(on[24]).status_code == 200, "throttle lifted", 10)
    assert [p.pid for p in owners if p is not None and p.running()] == pids  # none restarted
