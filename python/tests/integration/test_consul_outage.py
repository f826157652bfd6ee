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

import ipaddress
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from tests.conftest import REPO_ROOT
from tests.integration.controller_support import Client
from tests.integration.servers import STARTED, serve
from tests.integration.test_discovery import Consul, eventually
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.invoker_pool import InvokerInfo
from whisk_services.model.names import FullyQualifiedName
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.invoker import InvokerProcess
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
WHERE = """
import socket, time
def main(args):
    time.sleep(args.get("sleep", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return {"ip": s.getsockname()[0]}
"""


def home(action: str) -> int:
    class View:
        view = tuple(InvokerInfo(n, 1024) for n in INVOKERS)

    return Balancer(View()).choose("guest", FullyQualifiedName.parse(f"/guest/{action}"))


def homed(prefix: str, invoker: int) -> str:
    return next(f"{prefix}{i}" for i in range(100) if home(f"{prefix}{i}") == invoker)


class Bed:
    def __init__(
        self, workdir: Path, couchdb: CouchDBServer, kafka: KafkaBroker, consul: ConsulAgent
    ) -> None:
        self.workdir = workdir
        self.couchdb = couchdb
        self.kafka = kafka
        self.agent = consul
        self.consul_url = consul.http_address
        self.consul = Consul(consul.http_address)
        self.names = {n: f"test-invoker-out{n}-{uuid.uuid4().hex[:6]}" for n in INVOKERS}
        self.invokers: dict[int, InvokerProcess] = {}
        self.controller = ControllerProcess(
            workdir / "controller",
            couchdb,
            db_prefix=DB_PREFIX,
            kafka_hosts=kafka.bootstrap_servers,
            instance=CONTROLLER,
            consul_url=self.consul_url,
        )
        self.registrator: ServerProcess | None = None
        self.container: Container | None = None
        self.guest: Client | None = None

    def start_invoker(self, instance: int) -> None:
        invoker = InvokerProcess(
            self.workdir / f"invoker{instance}",
            self.couchdb,
            self.kafka.bootstrap_servers,
            unique_name=self.names[instance],
            network=NETWORKS[instance],
            db_prefix=DB_PREFIX,
            instance=instance,
            consul_url=self.consul_url,
            env={
                "WHISK_INVOKER_PAUSE_GRACE_S": "0.5",
                "WHISK_INVOKER_PREWARM": "python:3.11@256=1",
                "WHISK_INVOKER_USER_MEMORY_MB": "1024",
                "WHISK_INVOKER_CONSUL_TTL_S": str(TTL_S),
            },
        )
        STARTED.append(invoker)
        self.invokers[instance] = invoker
        invoker.start()

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
        result = subprocess.run(
            [sys.executable, "-m", "whisk_services.cli.wskadmin", *args],
            env={**self.controller.env, "WHISK_CONTROLLER_CONSUL_URL": self.consul_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result

    def put_action(self, name: str) -> None:
        assert self.guest is not None
        body = {"exec": {"kind": "python:3.11", "code": WHERE}, "limits": {"timeout": 60_000}}
        response = self.guest.call(
            "PUT", f"/namespaces/_/actions/{name}", params={"overwrite": "true"}, json=body
        )
        assert response.status_code == 200, response.text

    def invoke(self, action: str, args: dict[str, object] | None = None) -> Any:
        assert self.guest is not None
        return self.guest.call(
            "POST", f"/namespaces/_/actions/{action}", params={"blocking": "true"}, json=args or {}
        )

    def ran_on(self, action: str) -> int:
        response = self.invoke(action)
        assert response.status_code == 200, response.text
        return where(response.json()["response"]["result"])

    def record(self, activation_id: str) -> dict[str, Any] | None:
        assert self.guest is not None
        response = self.guest.call("GET", f"/namespaces/_/activations/{activation_id}")
        return response.json() if response.status_code == 200 else None


def where(result: dict[str, Any]) -> int:
    address = ipaddress.ip_address(result["ip"])
    for instance, (_, subnet, _) in NETWORKS.items():
        if address in ipaddress.ip_network(subnet):
            return instance
    raise AssertionError(f"{address} is on no invoker's network")


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
    STARTED.append(bed.controller)
    try:
        bed.controller.start()
        bed.guest = Client(bed.controller.url, bed.controller.create_subject("guest-user", "guest"))
        for n in INVOKERS:
            bed.start_invoker(n)
        bed.start_registrator()
        bed.start_container(engine)
        yield bed
    finally:
        if bed.registrator is not None:
            bed.registrator.stop()
        bed.controller.stop()
        for invoker in bed.invokers.values():
            invoker.stop()
        for container in engine.containers.list(
            all=True, filters={"label": f"org.whisk.test-run={LABELS['org.whisk.test-run']}"}
        ):
            container.remove(force=True)
        for name in bed.names.values():
            for container in engine.containers.list(
                all=True, filters={"label": f"org.whisk.invoker={name}"}, sparse=True
            ):
                container.remove(force=True)
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
