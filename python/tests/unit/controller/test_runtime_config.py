"""The throttle defaults from Consul KV (in memory): the key's limits over the environment's,
followed live; absent or malformed, the environment's; unreachable, the last known."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_discovery import MemoryRegistry
from whisk_services.controller.runtime_config import (
    THROTTLES_KEY,
    ThrottleDefaults,
    parse_throttles,
)
from whisk_services.controller.throttles import Throttles
from whisk_services.model.errors import ModelError
from whisk_services.model.namespace_limits import NamespaceLimits

ENV = NamespaceLimits(invocationsPerMinute=100, concurrentInvocations=10, firesPerMinute=50)


class Target:
    def __init__(self) -> None:
        self.applied: list[NamespaceLimits] = []

    def set_defaults(self, defaults: NamespaceLimits) -> None:
        self.applied.append(defaults)


async def eventually(condition: Callable[[], bool], within_s: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within_s
    while not condition():
        assert loop.time() < give_up, "condition not met in time"
        await asyncio.sleep(0.005)


def test_parse_throttles() -> None:
    assert parse_throttles(b'{"invocationsPerMinute": 0}') == NamespaceLimits(
        invocationsPerMinute=0
    )
    for bad in (
        b"nope",
        b"[1]",
        b'{"x": 1}',
        b'{"firesPerMinute": -1}',
        b'{"firesPerMinute": "1"}',
    ):
        with pytest.raises(ModelError):
            parse_throttles(bad)


def test_the_key_overrides_the_environment_live_and_its_removal_restores_it() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        target = Target()
        follower = ThrottleDefaults(registry, target, ENV, wait_s=0.5, retry_s=0.01)
        await follower.start()
        assert target.applied == [ENV]
        await registry.kv_put(THROTTLES_KEY, json.dumps({"invocationsPerMinute": 0}).encode())
        await eventually(lambda: follower.current.invocationsPerMinute == 0)
        assert target.applied[-1] == NamespaceLimits(
            invocationsPerMinute=0, concurrentInvocations=10, firesPerMinute=50
        )
        await registry.kv_put(THROTTLES_KEY, b"{not json")
        await eventually(lambda: follower.current == ENV)
        assert target.applied[-1] == ENV
        await registry.kv_put(THROTTLES_KEY, b'{"firesPerMinute": 5}')
        await eventually(lambda: follower.current.firesPerMinute == 5)
        await registry.kv_delete(THROTTLES_KEY)
        await eventually(lambda: follower.current == ENV)
        assert target.applied[-1] == ENV
        await follower.stop()

    asyncio.run(scenario())


def test_an_unreachable_registry_keeps_the_last_defaults_then_follows_again() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        await registry.kv_put(THROTTLES_KEY, b'{"concurrentInvocations": 3}')
        target = Target()
        follower = ThrottleDefaults(registry, target, ENV, wait_s=0.05, retry_s=0.01)
        await follower.start()
        assert follower.current.concurrentInvocations == 3
        registry.down = True
        await asyncio.sleep(0.2)
        assert follower.current.concurrentInvocations == 3
        registry.kv.clear()  # a dev agent restarted: it remembers nothing
        registry.down = False
        await eventually(lambda: follower.current == ENV)
        await follower.stop()

    asyncio.run(scenario())


def test_throttles_take_new_defaults_and_forget_cached_limits() -> None:
    async def scenario() -> None:
        throttles = Throttles(0, MemoryDocumentStore(), defaults=ENV)
        assert (await throttles.limits("guest")).invocationsPerMinute == 100
        throttles.set_defaults(NamespaceLimits(invocationsPerMinute=0))
        assert (await throttles.limits("guest")).invocationsPerMinute == 0
        assert (await throttles.limits("guest")).concurrentInvocations == 30  # the system's

    asyncio.run(scenario())
