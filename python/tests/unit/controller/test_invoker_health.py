"""The per-invoker health state machine, its ring of results, the monitor that syncs with
the registry, sends test actions and publishes each invoker's state to Consul KV."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_discovery import MemoryRegistry
from whisk_services.controller.invoker_health import (
    HealthTestAction,
    HealthyInvokers,
    InvokerHealth,
    InvokerHealthMonitor,
    Outcome,
    Result,
    State,
    health_test_action_name,
    state_key,
    states_by_invoker,
)
from whisk_services.controller.invoker_pool import StaticInvokers
from whisk_services.model.messages import ActivationMessage

ERROR, OK, LATE = Outcome.SYSTEM_ERROR, Outcome.SUCCESS, Outcome.TIMEOUT


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout=10))


def state_of(invoker: InvokerHealth) -> State:
    return invoker.state  # a call: mypy does not narrow it between assertions


def instances(view: HealthyInvokers) -> list[int]:
    return [info.instance for info in view.view]


def feed(invoker: InvokerHealth, *outcomes: Outcome, test: bool = False) -> list[bool]:
    return [
        invoker.record(Result(o, "a" * 32, 100.0 + i, "boom"), test=test)
        for i, o in enumerate(outcomes)
    ]


def test_an_invoker_starts_healthy_and_three_system_errors_are_tolerated() -> None:
    invoker = InvokerHealth(7)
    assert state_of(invoker) is State.HEALTHY
    assert feed(invoker, ERROR, ERROR, ERROR) == [False, False, False]
    assert state_of(invoker) is State.HEALTHY


def test_a_fourth_system_error_makes_it_unhealthy_and_says_why() -> None:
    invoker = InvokerHealth(7)
    assert feed(invoker, ERROR, OK, ERROR, ERROR, ERROR)[-1] is True
    assert state_of(invoker) is State.UNHEALTHY
    assert "4 system errors among the last 5 results" in invoker.reason
    assert "boom" in invoker.reason
    assert invoker.since == 104.0


def test_a_fourth_forced_ack_makes_it_unresponsive() -> None:
    invoker = InvokerHealth(7)
    feed(invoker, LATE, LATE, LATE)
    assert state_of(invoker) is State.HEALTHY
    feed(invoker, LATE)
    assert state_of(invoker) is State.UNRESPONSIVE
    assert "forced acks" in invoker.reason
    assert invoker.last_ack is None  # a timeout is no ack


def test_the_ring_keeps_the_last_ten_results_only() -> None:
    invoker = InvokerHealth(7)
    feed(invoker, ERROR, ERROR, ERROR, ERROR, OK, OK, OK, OK, OK, OK)
    assert state_of(invoker) is State.UNHEALTHY  # 4 errors still among the last 10
    assert len(invoker.ring) == 10
    assert feed(invoker, OK) == [True]  # the oldest error left the ring
    assert state_of(invoker) is State.HEALTHY
    assert invoker.count(ERROR) == 3


def test_a_successful_test_action_makes_it_healthy_at_once() -> None:
    invoker = InvokerHealth(7)
    feed(invoker, ERROR, ERROR, ERROR, ERROR)
    assert feed(invoker, ERROR, test=True) == [False]  # a failed test changes nothing
    assert feed(invoker, OK, test=True) == [True]
    assert state_of(invoker) is State.HEALTHY
    assert [r.outcome for r in invoker.ring] == [OK]
    assert invoker.reason == "the health test action succeeded"


def test_offline_follows_the_registry_and_overrides_results() -> None:
    invoker = InvokerHealth(7)
    assert invoker.registry(False, "consul check critical: TTL expired", 5.0)
    assert state_of(invoker) is State.OFFLINE
    assert invoker.reason == "consul check critical: TTL expired"
    feed(invoker, LATE, LATE, LATE, LATE)
    assert state_of(invoker) is State.OFFLINE
    assert invoker.registry(True, "", 6.0)
    assert state_of(invoker) is State.HEALTHY
    assert not invoker.ring  # a new process starts with a clean ring
    assert not invoker.registry(True, "", 7.0)


def test_the_monitor_publishes_tests_and_filters_the_view() -> None:
    async def body() -> None:
        registry = MemoryRegistry()
        now = [1000.0]
        pool = StaticInvokers([0, 1])
        monitor = InvokerHealthMonitor(
            pool, 22, registry=registry, cycle_s=60.0, clock=lambda: now[0]
        )
        sent: list[int] = []

        async def send_test(invoker: int) -> None:
            sent.append(invoker)

        monitor.send_test = send_test
        await monitor.tick()
        first = json.loads(registry.kv[state_key(1, 22)])
        assert first["state"] == "healthy"
        assert first["controller"] == 22
        view = HealthyInvokers(pool, monitor)
        assert instances(view) == [0, 1]

        for n in range(4):
            monitor.record(1, ERROR, f"{n:032x}", detail="The runtime 'x' is not available here.")
        await monitor.tick()
        published = json.loads(registry.kv["whisk/invokers/invoker1/state/controller22"])
        assert published["state"] == "unhealthy"
        assert "is not available here" in published["reason"]
        assert len(published["recentErrors"]) == 4
        assert published["recentErrors"][0]["kind"] == "system error"
        assert published["lastAck"] is not None
        assert instances(view) == [0]
        assert sent == [1]  # tested right away

        now[0] += 30
        await monitor.tick()
        assert sent == [1]  # not before the cycle is over
        now[0] += 31
        await monitor.tick()
        assert sent == [1, 1]

        monitor.record(1, OK, "f" * 32, test=True)
        await monitor.tick()
        assert json.loads(registry.kv[state_key(1, 22)])["state"] == "healthy"
        assert instances(view) == [0, 1]
        states = states_by_invoker(registry.kv)
        assert set(states) == {0, 1}
        assert states[1][22]["state"] == "healthy"

    run(body)


def test_states_by_invoker_skips_other_keys() -> None:
    tree = {
        "whisk/invokers/invoker3/drain": b"x",
        "whisk/invokers/invoker3/state/controller1": b'{"state": "offline"}',
        "whisk/invokers/invoker3/state/controllerX": b"{}",
        "whisk/invokers/invoker4/state/controller1": b"not json",
    }
    assert states_by_invoker(tree) == {3: {1: {"state": "offline"}}}


def test_the_health_test_action_is_created_once_and_asks_for_a_fresh_container() -> None:
    async def body() -> None:
        whisks = MemoryDocumentStore("whisks")
        first = await HealthTestAction.ensure(whisks, 22)
        again = await HealthTestAction.ensure(whisks, 22)
        assert first.revision == again.revision
        doc = await whisks.get(f"whisk.system/{health_test_action_name(22)}")
        assert doc is not None
        assert doc.body["exec"]["kind"] == "nodejs:18"
        assert doc.body["limits"]["memory"] == 128
        message = ActivationMessage.decode(first.message().encode())
        assert message.fresh_container
        assert str(message.action) == "/whisk.system/invokerHealthTestAction22"
        assert message.revision == first.revision
        assert not message.blocking

    run(body)
