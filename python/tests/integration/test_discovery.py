"""Invoker discovery through the real Consul agent: two invokers register with a TTL check,
the controller follows them by blocking queries and balances over the healthy, undrained
ones.

Each invoker has an action network of its own (two halves of this module's /24), and the
action answers its container's address, so the subnet tells which invoker ran it. Each
action's home invoker is computed with the balancer's own hash over the two invokers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest

from tests.integration.controller_support import Client
from tests.integration.servers import STARTED
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.invoker_pool import InvokerInfo
from whisk_services.model.names import FullyQualifiedName
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.invoker import InvokerProcess
from whisk_testbed.kafka import KafkaBroker

pytestmark = pytest.mark.integration

T = TypeVar("T")
DB_PREFIX = "discovery_"
CONTROLLER = 20
INVOKERS = (20, 21)
TTL_S = 2.0
NETWORKS = {
    20: ("whisk-test-disc20", "172.31.238.0/25", "whisktdsc0"),
    21: ("whisk-test-disc21", "172.31.238.128/25", "whisktdsc1"),
}
ACTIONS = [f"where{i}" for i in range(6)]
CODE = """
import socket
def main(args):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return {"ip": s.getsockname()[0]}
"""


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = 30.0) -> T:
    end = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Consul:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            text = response.read()
            return json.loads(text) if text else None

    def health(self) -> dict[str, str]:
        """Each invoker service id and its worst check status."""
        out = {}
        for entry in self.call("/v1/health/service/invoker"):
            statuses = [c["Status"] for c in entry["Checks"]]
            worst = next((s for s in ("critical", "warning") if s in statuses), "passing")
            out[entry["Service"]["ID"]] = worst
        return out


class Bed:
    def __init__(
        self,
        workdir: Path,
        couchdb: CouchDBServer,
        kafka: KafkaBroker,
        consul: ConsulAgent,
    ) -> None:
        self.workdir = workdir
        self.couchdb = couchdb
        self.kafka = kafka
        self.consul_url = consul.http_address
        self.consul = Consul(consul.http_address)
        self.names = {n: f"test-invoker-disc{n}-{uuid.uuid4().hex[:6]}" for n in INVOKERS}
        self.invokers: dict[int, InvokerProcess] = {}
        self.controller = ControllerProcess(
            workdir / "controller",
            couchdb,
            db_prefix=DB_PREFIX,
            kafka_hosts=kafka.bootstrap_servers,
            instance=CONTROLLER,
            consul_url=self.consul_url,
        )
        self.guest: Client | None = None
        self.starts = 0

    def start_invoker(self, instance: int) -> InvokerProcess:
        self.starts += 1
        invoker = InvokerProcess(
            self.workdir / f"invoker{instance}-{self.starts}",
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
        return invoker

    def wskadmin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "whisk_services.cli.wskadmin", *args],
            env={**self.controller.env, "WHISK_CONTROLLER_CONSUL_URL": self.consul_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ran_on(self, action: str) -> int:
        """Invoke ``action`` (blocking) and answer the invoker whose network ran it."""
        assert self.guest is not None
        response = self.guest.call(
            "POST", f"/namespaces/_/actions/{action}", params={"blocking": "true"}, json={}
        )
        assert response.status_code == 200, response.text
        address = ipaddress.ip_address(response.json()["response"]["result"]["ip"])
        for instance, (_, subnet, _) in NETWORKS.items():
            if address in ipaddress.ip_network(subnet):
                return instance
        raise AssertionError(f"{address} is on no invoker's network")


@pytest.fixture(scope="module")
def bed(
    test_logs: Path, couchdb: CouchDBServer, kafka_broker: KafkaBroker, consul_agent: ConsulAgent
) -> Iterator[Bed]:
    bed = Bed(test_logs / "discovery", couchdb, kafka_broker, consul_agent)
    STARTED.append(bed.controller)
    bed.controller.start()
    try:
        bed.guest = Client(bed.controller.url, bed.controller.create_subject("guest-user", "guest"))
        yield bed
    finally:
        bed.controller.stop()
        for invoker in bed.invokers.values():
            invoker.stop()
        for n in INVOKERS:
            with contextlib.suppress(urllib.error.HTTPError):  # 404: already gone
                bed.consul.call(f"/v1/agent/service/deregister/invoker{n}", "PUT")
            bed.consul.call(f"/v1/kv/whisk/invokers/invoker{n}/drain", "DELETE")
        engine = docker.from_env()
        for name in bed.names.values():
            for container in engine.containers.list(
                all=True, filters={"label": f"org.whisk.invoker={name}"}, sparse=True
            ):
                container.remove(force=True)
        engine.close()


def homes() -> dict[str, int]:
    class View:
        view = tuple(InvokerInfo(n, 1024) for n in INVOKERS)

    balancer = Balancer(View())
    return {a: balancer.choose("guest", FullyQualifiedName.parse(f"/guest/{a}")) for a in ACTIONS}


def test_invokers_register_and_turn_passing(bed: Bed) -> None:
    for n in INVOKERS:
        bed.start_invoker(n)
    both = {"invoker20": "passing", "invoker21": "passing"}
    health = eventually(lambda: bed.consul.health() == both, "both invokers passing")
    assert health
    entry = bed.consul.call("/v1/agent/service/invoker21")
    assert entry["Tags"] == ["whisk"]
    assert entry["Meta"]["instance"] == "21"
    assert entry["Meta"]["userMemory"] == "1024"
    assert entry["Meta"]["uniqueName"] == bed.names[21]
    assert "python:3.11" in entry["Meta"]["kinds"].split(",")


def test_invokes_spread_over_both_invokers(bed: Bed) -> None:
    assert bed.guest is not None
    expected = homes()
    assert set(expected.values()) == set(INVOKERS), expected
    for action in ACTIONS:
        body = {"exec": {"kind": "python:3.11", "code": CODE}}
        response = bed.guest.call("PUT", f"/namespaces/_/actions/{action}", json=body)
        assert response.status_code == 200, response.text
    # The controller may still be learning of the second invoker: wait until it spreads.
    eventually(lambda: all(bed.ran_on(a) == home for a, home in expected.items()), "the spread", 60)
    assert {a: bed.ran_on(a) for a in ACTIONS} == expected


def test_a_drained_invoker_gets_no_new_work(bed: Bed) -> None:
    expected = homes()
    on_21 = next(a for a, home in expected.items() if home == 21)
    drained = bed.wskadmin("invoker", "drain", "21")
    assert drained.returncode == 0, drained.stderr
    assert bed.consul.call("/v1/kv/whisk/invokers/invoker21/drain") is not None
    eventually(lambda: bed.ran_on(on_21) == 20, "invoker 21 drained")
    assert {bed.ran_on(a) for a in ACTIONS} == {20}
    assert bed.consul.health()["invoker21"] == "passing"  # drained, not unhealthy
    undrained = bed.wskadmin("invoker", "undrain", "21")
    assert undrained.returncode == 0, undrained.stderr
    eventually(lambda: bed.ran_on(on_21) == 21, "invoker 21 undrained")
    assert {a: bed.ran_on(a) for a in ACTIONS} == expected


def test_wskadmin_invoker_needs_consul(bed: Bed) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "whisk_services.cli.wskadmin", "invoker", "drain", "21"],
        env={k: v for k, v in bed.controller.env.items() if k != "WHISK_CONTROLLER_CONSUL_URL"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--consul-url" in result.stderr


def test_a_stopped_invoker_deregisters_and_gets_no_work(bed: Bed) -> None:
    bed.invokers[21].stop()  # SIGTERM: deregisters first
    assert "invoker21" not in bed.consul.health()
    time.sleep(1.0)  # the controller's blocking query answers at once; give it a moment
    assert {bed.ran_on(a) for a in ACTIONS} == {20}


def test_a_killed_invoker_turns_critical_and_gets_no_work(bed: Bed) -> None:
    expected = homes()
    bed.start_invoker(21)
    eventually(lambda: bed.consul.health().get("invoker21") == "passing", "invoker 21 back")
    on_21 = next(a for a, home in expected.items() if home == 21)
    eventually(lambda: bed.ran_on(on_21) == 21, "invoker 21 in use again")
    killed = bed.invokers[20]
    assert killed.process is not None
    start = time.monotonic()
    killed.process.kill()  # SIGKILL: no deregistration, the TTL check lapses
    eventually(
        lambda: bed.consul.health().get("invoker20") == "critical",
        "invoker 20 critical",
        timeout_s=3 * TTL_S + 2,
    )
    assert time.monotonic() - start <= 3 * TTL_S + 2
    time.sleep(1.0)
    assert {bed.ran_on(a) for a in ACTIONS} == {21}
