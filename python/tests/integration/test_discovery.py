"""Invoker discovery through the real Consul agent: two invokers register with a TTL check,
the controller follows them by blocking queries and balances over the healthy, undrained
ones.

Each invoker has an action network of its own (two halves of this module's /24), and the
action answers its container's address, so the subnet tells which invoker ran it. Each
action's home invoker is computed with the balancer's own hash over the two invokers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.integration.cluster_support import ConsulCluster, Layout, eventually, home
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.kafka import KafkaBroker

pytestmark = pytest.mark.integration

DB_PREFIX = "discovery_"
CONTROLLER = 20
INVOKERS = (20, 21)
TTL_S = 2.0
NETWORKS = {
    20: ("whisk-test-disc20", "172.31.238.0/25", "whisktdsc0"),
    21: ("whisk-test-disc21", "172.31.238.128/25", "whisktdsc1"),
}
LAYOUT = Layout(CONTROLLER, NETWORKS, DB_PREFIX, "disc", TTL_S)
ACTIONS = [f"where{i}" for i in range(6)]
CODE = """
import socket
def main(args):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return {"ip": s.getsockname()[0]}
"""


class Bed(ConsulCluster):
    def ran_on(self, action: str) -> int:
        """Invoke ``action`` (blocking) and answer the invoker whose network ran it."""
        response = self.invoke(action)
        assert response.status_code == 200, response.text
        return self.where(response.json()["response"]["result"])


@pytest.fixture(scope="module")
def bed(
    test_logs: Path, couchdb: CouchDBServer, kafka_broker: KafkaBroker, consul_agent: ConsulAgent
) -> Iterator[Bed]:
    bed = Bed(test_logs / "discovery", couchdb, kafka_broker, consul_agent, LAYOUT)
    try:
        bed.start_controller()
        yield bed
    finally:
        bed.stop()
        bed.forget_invokers("/drain")
        engine = docker.from_env()
        bed.remove_containers(engine)
        engine.close()


def homes() -> dict[str, int]:
    return {a: home(INVOKERS, a) for a in ACTIONS}


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
