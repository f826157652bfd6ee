"""The controller's view of the invokers in the registry (in memory): it follows
registrations, health and drain keys, and keeps the last known list while the registry is
down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from whisk_services.adapters.memory_discovery import MemoryRegistry
from whisk_services.controller.invoker_pool import (
    ConsulInvokers,
    InvokerInfo,
    StaticInvokers,
    drain_key,
    drained,
)
from whisk_services.ports.discovery import Check, Registration


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def invoker(instance: int, memory: int = 1024) -> Registration:
    return Registration(
        id=f"invoker{instance}",
        name="invoker",
        address="127.0.0.1",
        port=12001 + instance,
        meta={"instance": str(instance), "userMemory": str(memory)},
        check=Check(ttl_s=10.0),
    )


async def eventually(condition: Callable[[], bool], within_s: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within_s
    while not condition():
        assert loop.time() < give_up, "condition not met in time"
        await asyncio.sleep(0.005)


def instances(pool: ConsulInvokers) -> list[int]:
    return [info.instance for info in pool.view]


def test_the_static_view_is_the_configured_list() -> None:
    assert StaticInvokers([3, 1]).view == (InvokerInfo(3), InvokerInfo(1))
    with pytest.raises(ValueError, match="at least one invoker"):
        StaticInvokers([])


def test_drain_keys() -> None:
    assert drain_key(21) == "whisk/invokers/invoker21/drain"
    tree = {drain_key(2): b"", "whisk/invokers/invoker3/other": b"", drain_key(7): b"x"}
    assert drained(tree) == {2, 7}


def test_the_view_follows_registrations_and_health() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        announced: list[int] = []

        async def on_new(instance: int) -> None:
            announced.append(instance)

        await registry.register(invoker(1, 2048))
        await registry.pass_ttl("invoker1")
        await registry.register(invoker(0))  # critical until it reports
        pool = ConsulInvokers(registry, on_new=on_new, retry_s=0.01)
        await pool.start(first_wait_s=1)
        try:
            assert pool.view == (InvokerInfo(1, 2048),)
            await registry.pass_ttl("invoker0")
            await eventually(lambda: instances(pool) == [0, 1])
            assert pool.view[0] == InvokerInfo(0, 1024)
            assert announced == [1, 0]
            await registry.fail_ttl("invoker1")
            await eventually(lambda: instances(pool) == [0])
            assert pool.registered[1].health == "critical"
            await registry.pass_ttl("invoker1")
            await eventually(lambda: instances(pool) == [0, 1])
            assert announced == [1, 0]  # announced once
            await registry.deregister("invoker0")
            await eventually(lambda: instances(pool) == [1])
            # Not an invoker of ours: no instance number.
            await registry.register(Registration("other", "invoker", "127.0.0.1", 1))
            await asyncio.sleep(0.02)
            assert instances(pool) == [1]
        finally:
            await pool.close()

    run(scenario)


def test_drained_invokers_leave_the_view() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        for n in (0, 1):
            await registry.register(invoker(n))
            await registry.pass_ttl(f"invoker{n}")
        await registry.kv_put(drain_key(0), b"drained")
        pool = ConsulInvokers(registry, retry_s=0.01)
        await pool.start(first_wait_s=1)
        try:
            assert instances(pool) == [1]
            await registry.kv_put(drain_key(1), b"")
            await eventually(lambda: instances(pool) == [])
            await registry.kv_delete(drain_key(0))
            await eventually(lambda: instances(pool) == [0])
            assert pool.registered.keys() == {0, 1}
        finally:
            await pool.close()

    run(scenario)


def test_listeners_hear_health_and_drain_changes_only() -> None:
    """The health monitor wakes on these: an invoker turning critical is published at once."""

    async def scenario() -> None:
        registry = MemoryRegistry()
        await registry.register(invoker(0))
        await registry.pass_ttl("invoker0")
        pool = ConsulInvokers(registry, retry_s=0.01)
        heard: list[int] = []
        pool.listeners.append(lambda: heard.append(len(heard)))
        await pool.start(first_wait_s=1)
        try:
            heard.clear()  # the first answer may count as a change
            await registry.pass_ttl("invoker0")  # passing again: no change
            await asyncio.sleep(0.05)
            assert heard == []
            await registry.fail_ttl("invoker0")
            await eventually(lambda: len(heard) == 1)
            await registry.kv_put(drain_key(0), b"")
            await eventually(lambda: len(heard) == 2)
            await registry.kv_put("whisk/invokers/invoker0/state/controller0", b"{}")
            await asyncio.sleep(0.05)
            assert len(heard) == 2  # another key under the prefix: not a change
        finally:
            await pool.close()

    run(scenario)


def test_the_last_known_view_stays_while_the_registry_is_down() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        await registry.register(invoker(4))
        await registry.pass_ttl("invoker4")
        pool = ConsulInvokers(registry, retry_s=0.01, wait_s=0.05)
        await pool.start(first_wait_s=1)
        try:
            assert instances(pool) == [4]
            registry.down = True
            await asyncio.sleep(0.15)  # several failed queries
            assert instances(pool) == [4]
            registry.down = False
            await registry.register(invoker(5))
            await registry.pass_ttl("invoker5")
            await eventually(lambda: instances(pool) == [4, 5])
        finally:
            await pool.close()

    run(scenario)


def test_an_unreachable_registry_at_start_gives_an_empty_view_then_catches_up() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        await registry.register(invoker(2))
        await registry.pass_ttl("invoker2")
        registry.down = True
        pool = ConsulInvokers(registry, retry_s=0.01)
        await pool.start(first_wait_s=0.05)
        try:
            assert pool.view == ()
            registry.down = False
            await eventually(lambda: instances(pool) == [2])
        finally:
            await pool.close()

    run(scenario)


def test_an_invoker_whose_topic_cannot_be_made_waits_until_it_can() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        await registry.register(invoker(3))
        await registry.pass_ttl("invoker3")
        failures = [RuntimeError("kafka down")]

        async def on_new(instance: int) -> None:
            if failures:
                raise failures.pop()

        pool = ConsulInvokers(registry, on_new=on_new, retry_s=0.01)
        await pool.start(first_wait_s=1)
        try:
            assert pool.view == ()
            await eventually(lambda: instances(pool) == [3])
        finally:
            await pool.close()

    run(scenario)
