"""What each controller publishes for an operator draining an invoker: ``drained`` (it has
seen the drain flag and sends the invoker nothing new) and ``inFlight`` (its activations
the invoker has not completed), published promptly, over the in-memory registry and bus."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.unit.controller.support import activation_message
from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_bus import MemoryBus
from whisk_services.adapters.memory_discovery import MemoryRegistry
from whisk_services.controller.acks import AckTracker
from whisk_services.controller.balancer import Balancer, NoInvokersError
from whisk_services.controller.drain_view import DrainView, drains_seen
from whisk_services.controller.invocations import Invocations, completed_topic, topics
from whisk_services.controller.invoker_health import (
    FLIGHTS_PUBLISH_S,
    HealthyInvokers,
    InvokerHealthMonitor,
    Outcome,
    State,
    state_key,
)
from whisk_services.controller.invoker_pool import ConsulInvokers, StaticInvokers, drain_key
from whisk_services.model.messages import ActivationMessage, CompletionMessage
from whisk_services.ports.discovery import Check, Registration

CONTROLLER = 3
INVOKER = 7


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout=20))


def message(n: int) -> ActivationMessage:
    return activation_message(n, controller=CONTROLLER)


def published(registry: MemoryRegistry, invoker: int = INVOKER) -> dict[str, Any] | None:
    raw = registry.kv.get(state_key(invoker, CONTROLLER))
    return None if raw is None else dict(json.loads(raw))


def field(registry: MemoryRegistry, name: str) -> object:
    """A field of the published view of INVOKER (None when nothing is published)."""
    return (published(registry) or {}).get(name)


async def eventually(condition: Callable[[], bool], within_s: float, what: str) -> float:
    """Wait for ``condition``; how long it took (fails after ``within_s``)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        assert loop.time() - start < within_s, f"not within {within_s} s: {what}"
        await asyncio.sleep(0.01)
    return loop.time() - start


async def register_invoker(
    registry: MemoryRegistry, meta: dict[str, str] | None = None, check: Check | None = None
) -> None:
    """Register INVOKER as the invokers do, with ``meta`` beside its instance."""
    await registry.register(
        Registration(
            id=f"invoker{INVOKER}",
            name="invoker",
            address="127.0.0.1",
            port=12001,
            meta={"instance": str(INVOKER), **(meta or {})},
            check=check,
        )
    )


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the counts ------------------------------------------------------------------------------


def test_the_ack_tracker_counts_each_invokers_flights_and_says_when_they_change() -> None:
    async def body() -> None:
        clock = Clock(0.0)
        changes: list[tuple[int, int]] = []
        acks = AckTracker(
            MemoryDocumentStore("activations"),
            grace_s=1.0,
            clock=clock,
            on_count=lambda invoker, count: changes.append((invoker, count)),
        )
        acks.sent(message(1), 7, timeout_ms=1_000)
        acks.sent(message(2), 7, timeout_ms=60_000)
        acks.sent(message(3), 8, timeout_ms=60_000)
        acks.sent(message(3), 8, timeout_ms=60_000)  # the same id again: counted once
        assert (acks.in_flight(7), acks.in_flight(8), acks.in_flight(9)) == (2, 1, 0)
        assert acks.completed(f"{2:032x}") is not None
        assert acks.completed(f"{2:032x}") is None  # twice: no change
        assert acks.completed("f" * 32) is None  # another controller's
        clock.now = 2.5
        await acks.sweep()  # 1 is overdue: forced, no longer awaited
        assert (acks.in_flight(7), acks.in_flight(8)) == (0, 1)
        assert changes == [(7, 1), (7, 2), (8, 1), (8, 0), (8, 1), (7, 1), (7, 0)]

    run(body)


def test_the_drain_view_says_which_invokers_changed() -> None:
    flights = {5: 2}
    view = DrainView()
    assert view.fields(4) == {"drained": False, "inFlight": 0}
    assert view.set_drained([4, 5]) == {4, 5}
    assert view.set_drained([5, 6]) == {4, 6}
    view.flights = lambda instance: flights.get(instance, 0)
    assert view.fields(5) == {"drained": True, "inFlight": 2}
    flights[5] = 0
    assert view.fields(5) == {"drained": True, "inFlight": 0}
    assert drains_seen(StaticInvokers([1, 2])) == frozenset()


# --- the publication -------------------------------------------------------------------------


def test_every_published_state_carries_drained_and_in_flight() -> None:
    async def body() -> None:
        registry, clock = MemoryRegistry(), Clock()
        monitor = InvokerHealthMonitor(
            StaticInvokers([INVOKER]), CONTROLLER, registry=registry, clock=clock
        )
        await monitor.tick()
        view = published(registry)
        assert view is not None
        assert (view["drained"], view["inFlight"]) == (False, 0)
        assert view["state"] == "healthy"  # the existing fields stay
        assert {"reason", "since", "lastAck", "recentErrors", "controller"} <= set(view)

        # An undrained invoker's flights change with every activation: published within
        # FLIGHTS_PUBLISH_S, not at each change.
        monitor.drains.flights = lambda n: 2 if n == INVOKER else 0  # as the acks count
        monitor.in_flight_changed(INVOKER)
        clock.now += FLIGHTS_PUBLISH_S / 2
        await monitor.tick()
        assert published(registry) == view
        clock.now += FLIGHTS_PUBLISH_S / 2
        await monitor.tick()
        again = published(registry)
        assert again is not None
        assert again["inFlight"] == 2
        # Nothing changed: nothing published (the KV is left alone).
        registry.kv.pop(state_key(INVOKER, CONTROLLER))
        clock.now += FLIGHTS_PUBLISH_S
        await monitor.tick()
        assert published(registry) is None

    run(body)


def test_a_refused_publication_is_retried_the_next_round() -> None:
    async def body() -> None:
        registry = MemoryRegistry()
        monitor = InvokerHealthMonitor(StaticInvokers([INVOKER]), CONTROLLER, registry=registry)
        registry.down = True
        await monitor.tick()
        registry.down = False
        assert published(registry) is None
        await monitor.tick()
        assert published(registry) is not None

    run(body)


def test_a_drained_invoker_gets_no_health_test() -> None:
    async def body() -> None:
        registry = MemoryRegistry()
        await register_invoker(registry)
        pool = ConsulInvokers(registry)
        await pool.start()
        monitor = InvokerHealthMonitor(pool, CONTROLLER, registry=registry)
        tested: list[int] = []

        async def send_test(invoker: int) -> None:
            tested.append(invoker)

        monitor.send_test = send_test
        await registry.kv_put(drain_key(INVOKER), b"drained")
        await eventually(lambda: pool.drained == {INVOKER}, 2.0, "the drain seen")
        for n in range(4):
            monitor.record(INVOKER, Outcome.SYSTEM_ERROR, f"{n:032x}")
        await monitor.tick()
        assert monitor.state(INVOKER) is State.UNHEALTHY
        assert tested == []
        view = published(registry)
        assert view is not None
        assert (view["state"], view["drained"]) == ("unhealthy", True)

        await registry.kv_delete(drain_key(INVOKER))
        await eventually(lambda: pool.drained == frozenset(), 2.0, "the undrain seen")
        await monitor.tick()
        assert tested == [INVOKER]
        view = published(registry)
        assert view is not None
        assert view["drained"] is False
        await pool.close()

    run(body)


@pytest.mark.timeout(30)
def test_a_drained_invoker_at_zero_in_flight_is_published_within_a_second() -> None:
    async def body() -> None:
        registry, bus = MemoryRegistry(), MemoryBus()
        await register_invoker(registry, {"userMemory": "4096"}, Check(ttl_s=60.0))
        await registry.pass_ttl(f"invoker{INVOKER}")

        async def new_invoker(instance: int) -> None:
            await bus.ensure_topics(topics(CONTROLLER, [instance]))

        pool = ConsulInvokers(registry, on_new=new_invoker)
        await pool.start()
        # A health cycle far longer than the test: only the prompt publication can do it.
        monitor = InvokerHealthMonitor(pool, CONTROLLER, registry=registry, cycle_s=600.0)
        invocations = await Invocations.open(
            bus,
            MemoryDocumentStore("activations"),
            Balancer(HealthyInvokers(pool, monitor)),
            CONTROLLER,
            health=monitor,
        )
        monitor.start()
        try:
            for n in (1, 2):
                await invocations.send(message(n))
            await eventually(
                lambda: field(registry, "inFlight") == 2,
                FLIGHTS_PUBLISH_S + 1.0,
                "two in flight published",
            )
            assert field(registry, "drained") is False

            await registry.kv_put(drain_key(INVOKER), b"drained by the test")
            took = await eventually(
                lambda: field(registry, "drained") is True,
                1.0,
                "the drain published",
            )
            assert took < 1.0
            assert field(registry, "inFlight") == 2
            with pytest.raises(NoInvokersError):  # drained: no new work
                await invocations.send(message(3))

            completions = bus.producer()
            await completions.send(
                completed_topic(CONTROLLER),
                CompletionMessage("t", f"{1:032x}", INVOKER, is_system_error=False).encode(),
            )
            await eventually(lambda: field(registry, "inFlight") == 1, 1.0, "one left")
            await completions.send(
                completed_topic(CONTROLLER),
                CompletionMessage("t", f"{2:032x}", INVOKER, is_system_error=False).encode(),
            )
            took = await eventually(lambda: field(registry, "inFlight") == 0, 1.0, "none left")
            assert took < 1.0
            final = published(registry)
            assert final is not None
            assert (final["drained"], final["inFlight"], final["state"]) == (True, 0, "healthy")
        finally:
            await monitor.close()
            await invocations.close()
            await pool.close()

    run(body)
