"""Invoker health through real Consul, Kafka and CouchDB with two invokers (22 and 23) and
controller 22, on test timings (TTL 2 s, health cycle 2 s, ack grace 3 s).

A killed invoker turns offline and its work goes to the other; every activation it had in
flight ends in a record (the controller's "whisk internal error" after the ack timeout).
Restarted, it takes its home actions again. An invoker whose activations are system errors
(a runtime it does not have) turns unhealthy and `wskadmin invoker status` says why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import docker
import pytest

from tests.integration import cluster_support
from tests.integration.cluster_support import WHERE, ConsulCluster, Layout, eventually
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.couchdb import CouchDBServer
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
LAYOUT = Layout(CONTROLLER, NETWORKS, DB_PREFIX, "hlth", TTL_S)
homed = partial(cluster_support.homed, INVOKERS)


class Bed(ConsulCluster):
    def invoker_env(self, instance: int) -> dict[str, str]:
        env = super().invoker_env(instance)
        if instance == 23:  # no nodejs here: its nodejs activations are system errors
            env["WHISK_INVOKER_RUNTIME_IMAGES"] = "python:3.11=whisk/action-python:3.11"
        return env

    def wskadmin_status(self) -> dict[str, str]:
        result = self.wskadmin("invoker", "status")
        assert result.returncode == 0, result.stderr
        return {line.split()[0]: line for line in result.stdout.splitlines()}

    def start(self, action: str, args: dict[str, object]) -> str:
        assert self.guest is not None
        response = self.guest.call("POST", f"/namespaces/_/actions/{action}", json=args)
        assert response.status_code == 202, response.text
        return str(response.json()["activationId"])

    def ran_on(self, action: str) -> int | None:
        response = self.invoke(action)
        if response.status_code != 200:
            return None
        return self.where(response.json()["response"]["result"])


@pytest.fixture(scope="module")
def bed(
    test_logs: Path, couchdb: CouchDBServer, kafka_broker: KafkaBroker, consul_agent: ConsulAgent
) -> Iterator[Bed]:
    bed = Bed(
        test_logs / "health",
        couchdb,
        kafka_broker,
        consul_agent,
        LAYOUT,
        controller_env={
            "WHISK_CONTROLLER_ACK_TIMEOUT_S": str(ACK_GRACE_S),
            "WHISK_CONTROLLER_HEALTH_CYCLE_S": str(CYCLE_S),
        },
    )
    try:
        bed.start_controller()
        for n in INVOKERS:
            bed.start_invoker(n)
        both = {"invoker22": "passing", "invoker23": "passing"}
        eventually(lambda: bed.consul.health() == both, "both invokers passing")
        yield bed
    finally:
        bed.stop()
        bed.forget_invokers("?recurse")
        engine = docker.from_env()
        bed.remove_containers(engine)
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

    def published_offline() -> str | None:  # the controller's view reaches Consul KV next
        line = bed.wskadmin_status()["invoker22"]
        return line if "controller22=offline" in line else None

    assert "consul=critical" in eventually(published_offline, "controller 22 says offline", 2)
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
