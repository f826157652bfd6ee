"""Invoker health through real Consul, Kafka and CouchDB with two invokers (22 and 23) and
controller 22, on test timings (TTL 2 s, health cycle 2 s, ack grace 3 s).

A killed invoker turns offline and its work goes to the other; every activation it had in
flight ends in a record (the controller's "whisk internal error" after the ack timeout).
Restarted, it takes its home actions again. An invoker whose activations are system errors
(a runtime it does not have) turns unhealthy and `wskadmin invoker status` says why.
"""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
import sys
import time
import urllib.error
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import docker
import pytest

from tests.integration.controller_support import Client
from tests.integration.servers import STARTED
from tests.integration.test_discovery import Consul, eventually
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.invoker_pool import InvokerInfo
from whisk_services.model.names import FullyQualifiedName
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.invoker import InvokerProcess
from whisk_testbed.kafka import KafkaBroker

pytestmark = pytest.mark.integration

DB_PREFIX = "health_"
CONTROLLER = 22
INVOKERS = (22, 23)
TTL_S = 2.0
CYCLE_S = 2.0
ACK_GRACE_S = 3.0
NETWORKS = {
    22: ("whisk-test-health22", "172.31.237.0/25", "whisktdhl0"),
    23: ("whisk-test-health23", "172.31.237.128/25", "whisktdhl1"),
}
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
        self.consul_url = consul.http_address
        self.consul = Consul(consul.http_address)
        self.names = {n: f"test-invoker-hlth{n}-{uuid.uuid4().hex[:6]}" for n in INVOKERS}
        self.invokers: dict[int, InvokerProcess] = {}
        self.controller = ControllerProcess(
            workdir / "controller",
            couchdb,
            db_prefix=DB_PREFIX,
            kafka_hosts=kafka.bootstrap_servers,
            instance=CONTROLLER,
            consul_url=self.consul_url,
        )
        self.controller.env["WHISK_CONTROLLER_ACK_TIMEOUT_S"] = str(ACK_GRACE_S)
        self.controller.env["WHISK_CONTROLLER_HEALTH_CYCLE_S"] = str(CYCLE_S)
        self.guest: Client | None = None
        self.starts = 0

    def start_invoker(self, instance: int) -> InvokerProcess:
        self.starts += 1
        env = {
            "WHISK_INVOKER_PAUSE_GRACE_S": "0.5",
            "WHISK_INVOKER_PREWARM": "python:3.11@256=1",
            "WHISK_INVOKER_USER_MEMORY_MB": "1024",
            "WHISK_INVOKER_CONSUL_TTL_S": str(TTL_S),
        }
        if instance == 23:  # no nodejs here: its nodejs activations are system errors
            env["WHISK_INVOKER_RUNTIME_IMAGES"] = "python:3.11=whisk/action-python:3.11"
        invoker = InvokerProcess(
            self.workdir / f"invoker{instance}-{self.starts}",
            self.couchdb,
            self.kafka.bootstrap_servers,
            unique_name=self.names[instance],
            network=NETWORKS[instance],
            db_prefix=DB_PREFIX,
            instance=instance,
            consul_url=self.consul_url,
            env=env,
        )
        STARTED.append(invoker)
        self.invokers[instance] = invoker
        invoker.start()
        return invoker

    def wskadmin_status(self) -> dict[str, str]:
        result = subprocess.run(
            [sys.executable, "-m", "whisk_services.cli.wskadmin", "invoker", "status"],
            env={**self.controller.env, "WHISK_CONTROLLER_CONSUL_URL": self.consul_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return {line.split()[0]: line for line in result.stdout.splitlines()}

    def put_action(self, name: str, kind: str, code: str, timeout_ms: int = 60_000) -> None:
        assert self.guest is not None
        body = {"exec": {"kind": kind, "code": code}, "limits": {"timeout": timeout_ms}}
        response = self.guest.call(
            "PUT", f"/namespaces/_/actions/{name}", params={"overwrite": "true"}, json=body
        )
        assert response.status_code == 200, response.text

    def start(self, action: str, args: dict[str, object]) -> str:
        assert self.guest is not None
        response = self.guest.call("POST", f"/namespaces/_/actions/{action}", json=args)
        assert response.status_code == 202, response.text
        return str(response.json()["activationId"])

    def ran_on(self, action: str) -> int | None:
        assert self.guest is not None
        response = self.guest.call(
            "POST", f"/namespaces/_/actions/{action}", params={"blocking": "true"}, json={}
        )
        if response.status_code != 200:
            return None
        address = ipaddress.ip_address(response.json()["response"]["result"]["ip"])
        for instance, (_, subnet, _) in NETWORKS.items():
            if address in ipaddress.ip_network(subnet):
                return instance
        raise AssertionError(f"{address} is on no invoker's network")

    def record(self, activation_id: str) -> dict[str, object] | None:
        assert self.guest is not None
        response = self.guest.call("GET", f"/namespaces/_/activations/{activation_id}")
        return response.json() if response.status_code == 200 else None


@pytest.fixture(scope="module")
def bed(
    test_logs: Path, couchdb: CouchDBServer, kafka_broker: KafkaBroker, consul_agent: ConsulAgent
) -> Iterator[Bed]:
    bed = Bed(test_logs / "health", couchdb, kafka_broker, consul_agent)
    STARTED.append(bed.controller)
    bed.controller.start()
    try:
        bed.guest = Client(bed.controller.url, bed.controller.create_subject("guest-user", "guest"))
        for n in INVOKERS:
            bed.start_invoker(n)
        both = {"invoker22": "passing", "invoker23": "passing"}
        eventually(lambda: bed.consul.health() == both, "both invokers passing")
        yield bed
    finally:
        bed.controller.stop()
        for invoker in bed.invokers.values():
            invoker.stop()
        for n in INVOKERS:
            with contextlib.suppress(urllib.error.HTTPError):  # 404: already gone
                bed.consul.call(f"/v1/agent/service/deregister/invoker{n}", "PUT")
            bed.consul.call(f"/v1/kv/whisk/invokers/invoker{n}?recurse", "DELETE")
        engine = docker.from_env()
        for name in bed.names.values():
            for container in engine.containers.list(
                all=True, filters={"label": f"org.whisk.invoker={name}"}, sparse=True
            ):
                container.remove(force=True)
        engine.close()


def test_a_killed_invoker_goes_offline_and_its_activations_end_in_records(bed: Bed) -> None:
    on_22, also_22 = homed("sleepy", 22), homed("where", 22)
    bed.put_action(on_22, "python:3.11", WHERE, timeout_ms=6_000)
    bed.put_action(also_22, "python:3.11", WHERE, timeout_ms=3_000)
    eventually(lambda: bed.ran_on(also_22) == 22, "invoker 22 in use")
    ids = [bed.start(on_22, {"sleep": 5}) for _ in range(3)]
    time.sleep(1.5)  # they run now
    killed = bed.invokers[22]
    assert killed.process is not None
    start = time.monotonic()
    killed.process.kill()
    eventually(lambda: bed.consul.health().get("invoker22") == "critical", "invoker 22 critical", 8)
    time.sleep(0.5)  # the controller's blocking query answers at once
    assert bed.ran_on(also_22) == 23
    assert time.monotonic() - start <= 10
    status = bed.wskadmin_status()["invoker22"]
    assert "consul=critical" in status
    assert "controller22=offline" in status
    for activation_id in ids:
        record = eventually(partial(bed.record, activation_id), f"record of {activation_id}", 20)
        response = record["response"]
        assert isinstance(response, dict)
        assert response["status"] == "whisk internal error", record
        assert "did not answer in time" in response["result"]["error"]


def test_a_restarted_invoker_takes_its_share_again(bed: Bed) -> None:
    also_22 = homed("where", 22)
    bed.start_invoker(22)
    eventually(lambda: bed.consul.health().get("invoker22") == "passing", "invoker 22 back")
    back = time.monotonic()
    eventually(lambda: bed.ran_on(also_22) == 22, "invoker 22 in use", timeout_s=2 * CYCLE_S + 2)
    assert time.monotonic() - back <= 2 * CYCLE_S + 2
    eventually(
        lambda: "controller22=healthy" in bed.wskadmin_status()["invoker22"], "22 healthy", 5
    )


def test_an_invoker_with_system_errors_turns_unhealthy_and_status_says_why(bed: Bed) -> None:
    on_23 = homed("jsfail", 23)
    bed.put_action(on_23, "nodejs:18", "function main(a) { return a; }")
    for _ in range(4):
        assert bed.guest is not None
        response = bed.guest.call(
            "POST", f"/namespaces/_/actions/{on_23}", params={"blocking": "true"}, json={}
        )
        assert response.status_code in {500, 502}, response.text

    def unhealthy() -> str | None:
        line = bed.wskadmin_status()["invoker23"]
        return line if "controller22=unhealthy" in line else None

    line = eventually(unhealthy, "invoker 23 unhealthy", 10)
    assert "system errors" in line
    assert "is not available here" in line
    assert "consul=passing" in line
    where_23 = homed("where", 23)
    bed.put_action(where_23, "python:3.11", WHERE)
    assert bed.ran_on(where_23) == 22  # only the healthy invoker gets work
