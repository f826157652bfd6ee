"""The discovery port on the real Consul agent (adapters/consul.py).

What the invokers, the controllers and the registrator rely on: registration with a TTL
check the owner refreshes, health as Consul reports it, blocking queries that return when
something changed (and not before), the key-value store, and clear errors.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from whisk_services.adapters.consul import ConsulRegistry
from whisk_services.ports.discovery import Check, DiscoveryError, Registration
from whisk_testbed.consul import ConsulAgent

pytestmark = pytest.mark.integration


def run(body: Callable[[ConsulRegistry], Awaitable[Any]], url: str) -> Any:
    async def main() -> Any:
        registry = ConsulRegistry(url)
        try:
            return await asyncio.wait_for(body(registry), timeout=60)
        finally:
            await registry.close()

    return asyncio.run(main())


def registration(name: str, n: int = 0, **changes: Any) -> Registration:
    fields: dict[str, Any] = {
        "id": f"{name}{n}",
        "name": name,
        "address": "127.0.0.1",
        "port": 12001 + n,
        "tags": ("whisk",),
        "meta": {"userMemory": "2048"},
        "check": Check(ttl_s=30, deregister_after_s=120),
    }
    fields.update(changes)
    return Registration(**fields)


def test_a_ttl_service_turns_passing_then_critical(consul_agent: ConsulAgent) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"

    async def body(registry: ConsulRegistry) -> None:
        await registry.register(registration(name))
        (fresh,), index = await registry.instances(name)
        assert fresh.health == "critical"  # a TTL check starts critical until reported
        await registry.pass_ttl(f"{name}0", "alive")
        (alive,), _ = await registry.instances(name)
        assert (alive.health, alive.port, alive.meta, alive.tags) == (
            "passing",
            12001,
            {"userMemory": "2048"},
            ("whisk",),
        )
        assert "alive" in alive.output
        await registry.fail_ttl(f"{name}0", "too many errors")
        (failed,), _ = await registry.instances(name)
        assert failed.health == "critical"
        assert "too many errors" in failed.output
        assert f"{name}0" in await registry.local_services()
        await registry.deregister(f"{name}0")
        await registry.deregister(f"{name}0")  # already gone: a no-op
        assert (await registry.instances(name))[0] == []
        assert index > 0

    run(body, consul_agent.http_address)


def test_a_blocking_query_returns_on_change_not_before(consul_agent: ConsulAgent) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"

    async def body(registry: ConsulRegistry) -> tuple[float, float, int]:
        await registry.register(registration(name))
        _, index = await registry.instances(name)
        started = time.monotonic()
        _, same = await registry.instances(name, index=index, wait_s=1.0)  # nothing changes
        assert same == index
        idle = time.monotonic() - started

        async def later() -> None:
            await asyncio.sleep(0.5)
            await registry.register(registration(name, 1))

        changer = asyncio.create_task(later())
        started = time.monotonic()
        found, _ = await registry.instances(name, index=index, wait_s=20.0)
        woke = time.monotonic() - started
        await changer
        for n in (0, 1):
            await registry.deregister(f"{name}{n}")
        return idle, woke, len(found)

    idle, woke, count = run(body, consul_agent.http_address)
    assert idle >= 0.9  # it waited for the whole second
    assert woke < 10  # it answered on the change, far before the 20 s wait
    assert count == 2


def test_the_key_value_store(consul_agent: ConsulAgent) -> None:
    prefix = f"whisk-test/{uuid.uuid4().hex[:8]}"

    async def body(registry: ConsulRegistry) -> None:
        assert await registry.kv_get(f"{prefix}/missing") is None
        assert (await registry.kv_tree(prefix))[0] == {}
        await registry.kv_put(f"{prefix}/invoker0/state", b'{"state":"up"}')
        await registry.kv_put(f"{prefix}/invoker1/state", b"")
        assert await registry.kv_get(f"{prefix}/invoker0/state") == b'{"state":"up"}'
        tree, index = await registry.kv_tree(prefix)
        assert tree == {
            f"{prefix}/invoker0/state": b'{"state":"up"}',
            f"{prefix}/invoker1/state": b"",
        }

        async def later() -> None:
            await asyncio.sleep(0.3)
            await registry.kv_put(f"{prefix}/drain", b"invoker1")

        changer = asyncio.create_task(later())
        changed, _ = await registry.kv_tree(prefix, index=index, wait_s=20.0)
        await changer
        assert changed[f"{prefix}/drain"] == b"invoker1"
        await registry.kv_delete(f"{prefix}/drain")
        await registry.kv_delete(f"{prefix}/drain")
        assert await registry.kv_get(f"{prefix}/drain") is None

    run(body, consul_agent.http_address)


def test_an_unreachable_agent_is_a_discovery_error() -> None:
    async def body(registry: ConsulRegistry) -> None:
        with pytest.raises(DiscoveryError, match="consul GET"):
            await registry.instances("invoker")
        with pytest.raises(DiscoveryError):
            await registry.register(registration("invoker"))

    run(body, "http://127.0.0.1:1")
