"""Activations without a completion in time: a whisk internal error record written once by
the controller (never over the invoker's), the memory released, a waiting caller answered,
and a timeout counted against the invoker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.unit.controller.support import activation_message
from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_bus import MemoryBus
from whisk_services.controller.acks import AckTracker, Flight, no_answer
from whisk_services.controller.balancer import Balancer, NoInvokersError
from whisk_services.controller.invocations import Invocations
from whisk_services.controller.invoker_health import (
    HealthyInvokers,
    InvokerHealthMonitor,
    Outcome,
)
from whisk_services.controller.invoker_pool import StaticInvokers
from whisk_services.model.activation import Activation, ActivationResponse, ActivationStatus
from whisk_services.model.messages import ActivationMessage, CompletionMessage
from whisk_services.ports.messaging import TopicSpec


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout=10))


def message(n: int = 1, *, blocking: bool = False) -> ActivationMessage:
    return activation_message(n, blocking=blocking)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_overdue_activation_gets_one_whisk_error_record() -> None:
    async def body() -> None:
        store = MemoryDocumentStore("activations")
        clock = Clock()
        forced: list[tuple[Flight, Activation | None]] = []
        acks = AckTracker(
            store, grace_s=3.0, clock=clock, on_forced=lambda f, r: forced.append((f, r))
        )
        acks.sent(message(1), invoker=5, timeout_ms=2_000)
        clock.now = 4.9
        await acks.sweep()
        assert forced == []
        clock.now = 5.0
        await acks.sweep()
        await acks.sweep()
        assert len(forced) == 1
        flight, record = forced[0]
        assert flight.invoker == 5
        assert record is not None
        doc = await store.get(f"guest/{1:032x}")
        assert doc is not None
        stored = Activation.from_doc(doc.body)
        assert stored.response.status is ActivationStatus.WHISK_ERROR
        assert stored.response.result == {"error": no_answer(5)}
        assert (stored.namespace, stored.name, stored.subject) == (
            "guest",
            "sleepy",
            "guest-subject",
        )
        assert stored.start == 1_000
        assert acks.written == 1
        assert len(acks) == 0

    run(body)


def test_the_invokers_record_is_kept_when_it_exists() -> None:
    async def body() -> None:
        store = MemoryDocumentStore("activations")
        clock = Clock()
        forced: list[Activation | None] = []
        acks = AckTracker(store, grace_s=0, clock=clock, on_forced=lambda _f, r: forced.append(r))
        theirs = Activation(
            "guest",
            "sleepy",
            "guest-subject",
            f"{2:032x}",
            1_000,
            1_500,
            ActivationResponse.success({"ok": True}),
        )
        await store.put(theirs.doc_id(), theirs.to_doc())
        acks.sent(message(2), invoker=5, timeout_ms=0)
        await acks.sweep()
        assert acks.written == 0
        assert forced[0] is not None
        assert forced[0].response.is_success
        doc = await store.get(theirs.doc_id())
        assert doc is not None
        assert doc.body["response"]["result"] == {"ok": True}

    run(body)


def test_a_completion_in_time_writes_nothing() -> None:
    async def body() -> None:
        store = MemoryDocumentStore("activations")
        clock = Clock()
        acks = AckTracker(store, grace_s=1, clock=clock)
        acks.sent(message(3), invoker=5, timeout_ms=0)
        assert acks.completed(f"{3:032x}") is not None
        assert acks.completed(f"{3:032x}") is None
        clock.now = 100
        await acks.sweep()
        assert await store.get(f"guest/{3:032x}") is None

    run(body)


async def invocations_over(bus: MemoryBus, store: MemoryDocumentStore) -> Invocations:
    await bus.ensure_topics([TopicSpec("invoker0", 1000), TopicSpec("completed0", 1000)])
    pool = StaticInvokers([0])
    monitor = InvokerHealthMonitor(pool, 0)
    invocations = Invocations(
        bus.producer(),
        store,
        Balancer(HealthyInvokers(pool, monitor)),
        0,
        ack_grace_s=0.2,
        health=monitor,
    )
    invocations.acks.start()
    return invocations


def test_a_blocking_caller_is_answered_and_the_memory_released() -> None:
    async def body() -> None:
        bus, store = MemoryBus(), MemoryDocumentStore("activations")
        invocations = await invocations_over(bus, store)
        finished = await invocations.send_and_wait(
            message(4, blocking=True), 5.0, memory_mb=256, timeout_ms=100
        )
        assert finished is not None
        assert finished.status is ActivationStatus.WHISK_ERROR
        assert finished.record["activationId"] == f"{4:032x}"
        assert invocations.balancer.in_flight_mb(0) == 0
        assert invocations.health is not None
        ring = invocations.health.invokers[0].ring
        assert [r.outcome for r in ring] == [Outcome.TIMEOUT]
        assert await store.get(f"guest/{4:032x}") is not None
        await invocations.close()

    run(body)


def test_completions_count_for_the_invokers_health() -> None:
    async def body() -> None:
        bus, store = MemoryBus(), MemoryDocumentStore("activations")
        invocations = await invocations_over(bus, store)
        for n in range(4):
            await invocations.send(message(10 + n), memory_mb=256, timeout_ms=60_000)
            invocations.complete(
                CompletionMessage("t", f"{10 + n:032x}", 0, is_system_error=True).encode()
            )
        assert invocations.health is not None
        assert invocations.health.state(0) == "unhealthy"
        assert invocations.balancer.invokers == ()  # only healthy invokers are used
        with pytest.raises(NoInvokersError):
            await invocations.send(message(20))
        assert len(invocations.acks) == 0
        assert invocations.balancer.in_flight_mb(0) == 0
        await invocations.close()

    run(body)
