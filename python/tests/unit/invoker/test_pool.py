"""The container pool's scheduling, pausing and removal, on in-memory containers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from whisk_services.adapters.memory_containers import MemoryContainerFactory
from whisk_services.invoker.pool import ContainerPool, PoolClosedError
from whisk_services.ports.containers import ContainerError

PY = ("python:3.11", "whisk/action-python:3.11")
NODE = ("nodejs:18", "whisk/action-nodejs:18")
LONG = 3600.0


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout=10))


def pool_of(factory: MemoryContainerFactory, **options: Any) -> ContainerPool:
    settings: dict[str, Any] = {
        "user_memory_mb": 1024,
        "pause_grace_s": LONG,
        "idle_timeout_s": LONG,
    }
    settings.update(options)
    return ContainerPool(factory, **settings)


def test_warm_reuse() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory)
        ids = set()
        for _ in range(200):
            lease = await pool.acquire("guest/hello", *PY, 256)
            ids.add(lease.container.id)
            await pool.release(lease, healthy=True)
        assert len(ids) == 1
        assert factory.count("create") == 1
        assert pool.stats.created == pool.stats.cold_starts == 1
        assert pool.stats.warm_hits == 199
        assert pool.stats.warm_hits / 200 >= 0.99
        assert pool.stats.inits == 1
        await pool.close()

    run(body)


def test_first_lease_needs_init_warm_ones_do_not() -> None:
    async def body() -> None:
        pool = pool_of(MemoryContainerFactory())
        first = await pool.acquire("a", *PY, 256)
        assert first.needs_init
        await pool.release(first, healthy=True)
        second = await pool.acquire("a", *PY, 256)
        assert not second.needs_init
        assert second.container is first.container
        other = await pool.acquire("b", *PY, 256)  # another action never shares
        assert other.needs_init
        assert other.container is not first.container
        await pool.close()

    run(body)


def test_prewarm_stem_cell_is_used_then_replenished() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory, prewarm=[(*PY, 256, 2), (*NODE, 256, 1)])
        await pool.start()
        assert factory.count("create") == 3
        assert pool.prewarm_count == 3
        assert pool.used_memory_mb == 0  # stem cells do not count until used
        stem_ids = {c.id for c in factory.alive() if c.image == PY[1]}

        lease = await pool.acquire("guest/new", *PY, 256)
        assert factory.count("create") == 3  # nothing created on the request path
        assert lease.needs_init
        assert lease.container.id in stem_ids
        assert pool.stats.prewarm_hits == 1
        assert pool.stats.cold_starts == 0
        assert pool.used_memory_mb == 256

        await asyncio.sleep(0)  # the replacement is created in the background
        await asyncio.sleep(0)
        assert factory.count("create") == 4
        assert pool.prewarm_count == 3

        # another memory size finds no stem cell: cold
        cold = await pool.acquire("guest/big", *PY, 512)
        assert cold.needs_init
        assert pool.stats.cold_starts == 1
        await pool.close()

    run(body)


def test_memory_capacity_and_lru_eviction() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory, user_memory_mb=1024)
        leases = [await pool.acquire(f"a{i}", *PY, 256) for i in range(4)]
        assert pool.used_memory_mb == 1024
        # free them oldest first: a0 is the least recently used
        for lease in leases:
            await pool.release(lease, healthy=True)
        assert pool.free_count == 4

        big = await pool.acquire("big", *PY, 512)  # evicts a0 and a1, just enough
        await asyncio.sleep(0)
        destroyed = [cid for op, cid in factory.calls if op == "destroy"]
        assert destroyed == [leases[0].container.id, leases[1].container.id]
        assert pool.stats.evictions == 2
        assert pool.used_memory_mb == 1024
        assert big.needs_init

        warm = await pool.acquire("a3", *PY, 256)  # still warm
        assert not warm.needs_init
        assert warm.container is leases[3].container
        await pool.close()

    run(body)


def test_waits_in_fifo_order_when_full() -> None:
    async def body() -> None:
        pool = pool_of(MemoryContainerFactory(), user_memory_mb=512)
        held = [await pool.acquire(f"h{i}", *PY, 256) for i in range(2)]
        order: list[str] = []

        async def wanted(name: str) -> None:
            lease = await pool.acquire(name, *PY, 256)
            order.append(name)
            await asyncio.sleep(0.01)
            await pool.release(lease, healthy=False)

        tasks = [asyncio.create_task(wanted(f"w{i}")) for i in range(4)]
        await asyncio.sleep(0.01)
        assert pool.waiting == 4
        assert order == []
        await pool.release(held[0], healthy=True)  # free but evictable: w0 gets room
        await asyncio.sleep(0.005)
        assert order == ["w0"]
        await pool.release(held[1], healthy=False)
        await asyncio.gather(*tasks)
        assert order == ["w0", "w1", "w2", "w3"]
        assert pool.used_memory_mb == 0
        await pool.close()

    run(body)


def test_head_of_line_waits_and_later_requests_queue_behind() -> None:
    async def body() -> None:
        pool = pool_of(MemoryContainerFactory(), user_memory_mb=512)
        small = await pool.acquire("s", *PY, 256)
        other = await pool.acquire("o", *PY, 256)
        big = asyncio.create_task(pool.acquire("big", *PY, 512))
        await asyncio.sleep(0)
        late = asyncio.create_task(pool.acquire("late", *PY, 256))
        await pool.release(small, healthy=False)  # 256 free: not enough for the head
        await asyncio.sleep(0.01)
        assert not big.done()
        assert not late.done()  # FIFO: does not overtake the big one
        await pool.release(other, healthy=False)
        big_lease = await big
        await pool.release(big_lease, healthy=False)
        await late
        await pool.close()

    run(body)


def test_cancelled_waiter_leaves_the_queue() -> None:
    async def body() -> None:
        pool = pool_of(MemoryContainerFactory(), user_memory_mb=256)
        held = await pool.acquire("a", *PY, 256)
        waiter = asyncio.create_task(pool.acquire("b", *PY, 256))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert pool.waiting == 0
        await pool.release(held, healthy=True)
        assert pool.used_memory_mb == 256
        again = await pool.acquire("a", *PY, 256)
        assert not again.needs_init
        await pool.close()

    run(body)


def test_pause_after_grace_and_unpause_on_reuse() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory, pause_grace_s=0.05)
        lease = await pool.acquire("a", *PY, 256)
        await pool.release(lease, healthy=True)
        await asyncio.sleep(0.01)
        assert factory.count("pause") == 0  # within the grace period
        await asyncio.sleep(0.1)
        assert factory.calls[-1] == ("pause", lease.container.id)
        assert pool.stats.pauses == 1

        again = await pool.acquire("a", *PY, 256)
        assert again.container is lease.container
        assert factory.calls[-1] == ("unpause", lease.container.id)
        assert pool.stats.unpauses == 1
        assert not factory.containers[lease.container.id].paused

        # reused within the grace period: neither paused nor unpaused
        await pool.release(again, healthy=True)
        third = await pool.acquire("a", *PY, 256)
        assert pool.stats.pauses == pool.stats.unpauses == 1
        await pool.release(third, healthy=True)
        await pool.close()

    run(body)


def test_unhealthy_release_destroys_at_once() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory)
        lease = await pool.acquire("a", *PY, 256)
        await pool.release(lease, healthy=False)
        assert factory.calls[-1] == ("destroy", lease.container.id)
        assert pool.used_memory_mb == 0
        assert pool.free_count == 0
        fresh = await pool.acquire("a", *PY, 256)
        assert fresh.needs_init
        assert fresh.container is not lease.container
        with pytest.raises(ValueError, match="not held"):
            await pool.release(lease, healthy=True)
        await pool.close()

    run(body)


def test_idle_timeout_destroys() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory, pause_grace_s=0.02, idle_timeout_s=0.08)
        lease = await pool.acquire("a", *PY, 256)
        await pool.release(lease, healthy=True)
        await asyncio.sleep(0.2)
        assert [op for op, _ in factory.calls] == ["create", "pause", "destroy"]
        assert pool.free_count == 0
        assert pool.used_memory_mb == 0
        await pool.close()

    run(body)


def test_idle_timeout_shorter_than_grace_destroys_unpaused() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory, pause_grace_s=1.0, idle_timeout_s=0.02)
        await pool.release(await pool.acquire("a", *PY, 256), healthy=True)
        await asyncio.sleep(0.1)
        assert [op for op, _ in factory.calls] == ["create", "destroy"]
        await pool.close()

    run(body)


def test_failed_create_frees_the_memory() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory, user_memory_mb=256)
        factory.fail_creates = 1
        with pytest.raises(ContainerError):
            await pool.acquire("a", *PY, 256)
        assert pool.used_memory_mb == 0
        lease = await pool.acquire("a", *PY, 256)
        assert lease.needs_init
        await pool.close()

    run(body)


def test_concurrent_cold_starts_never_overcommit() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        factory.create_delay_s = 0.01
        pool = pool_of(factory, user_memory_mb=1024)
        peak = 0

        async def one(i: int) -> None:
            nonlocal peak
            lease = await pool.acquire(f"a{i % 6}", *PY, 256)
            peak = max(peak, pool.used_memory_mb, 256 * len(factory.alive()))
            await asyncio.sleep(0.005)
            await pool.release(lease, healthy=True)

        await asyncio.gather(*(one(i) for i in range(60)))
        assert peak <= 1024
        assert pool.used_memory_mb <= 1024
        await pool.close()
        assert factory.alive() == []

    run(body)


def test_too_big_for_the_pool_is_refused() -> None:
    async def body() -> None:
        pool = pool_of(MemoryContainerFactory(), user_memory_mb=256)
        with pytest.raises(ValueError, match="exceed"):
            await pool.acquire("a", *PY, 512)
        await pool.close()

    run(body)


def test_close_destroys_everything() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory, user_memory_mb=512, pause_grace_s=0.01, prewarm=[(*PY, 256, 2)])
        await pool.start()
        busy = await pool.acquire("busy", *NODE, 256)
        await pool.release(await pool.acquire("free", *PY, 256), healthy=True)
        await asyncio.sleep(0.05)  # the free one is paused
        waiter = asyncio.create_task(pool.acquire("waiting", *NODE, 512))
        await asyncio.sleep(0)
        await pool.close()
        assert factory.alive() == []
        assert factory.count("destroy") == factory.count("create")
        with pytest.raises(PoolClosedError):
            await waiter
        with pytest.raises(PoolClosedError):
            await pool.acquire("late", *PY, 256)
        await pool.release(busy, healthy=True)  # a lease outliving the pool is fine

    run(body)


def test_a_finishing_container_is_handed_to_the_next_call_of_its_action() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory)
        first = await pool.acquire("guest/hello", *PY, 256)
        pool.finishing(first)
        waiting = asyncio.create_task(pool.acquire("guest/hello", *PY, 256))
        other = await pool.acquire("guest/other", *PY, 256)  # another action does not wait
        await asyncio.sleep(0)
        assert not waiting.done()
        await pool.release(first, healthy=True)
        second = await waiting
        assert second.container.id == first.container.id
        assert second.needs_init is False
        assert other.container.id != first.container.id
        assert factory.count("create") == 2
        assert (pool.stats.handoffs, pool.stats.warm_hits) == (1, 1)
        assert pool.busy_count == 2
        await pool.release(second, healthy=True)
        assert pool.free_count == 1
        await pool.close()

    run(body)


def test_an_unhealthy_finishing_container_sends_its_waiter_elsewhere() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory)
        first = await pool.acquire("guest/hello", *PY, 256)
        pool.finishing(first)
        waiting = asyncio.create_task(pool.acquire("guest/hello", *PY, 256))
        await asyncio.sleep(0)
        await pool.release(first, healthy=False)
        second = await waiting
        assert second.container.id != first.container.id
        assert second.needs_init is True
        assert factory.count("destroy") == 1
        await pool.close()

    run(body)


def test_a_cancelled_handoff_leaves_the_container_free() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory)
        first = await pool.acquire("guest/hello", *PY, 256)
        pool.finishing(first)
        waiting = asyncio.create_task(pool.acquire("guest/hello", *PY, 256))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await pool.release(first, healthy=True)
        assert (pool.free_count, pool.busy_count) == (1, 0)
        again = await pool.acquire("guest/hello", *PY, 256)
        assert again.container.id == first.container.id
        await pool.close()

    run(body)


def test_a_running_container_that_is_not_finishing_is_not_waited_for() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory)
        first = await pool.acquire("guest/hello", *PY, 256)
        second = await pool.acquire("guest/hello", *PY, 256)
        assert second.container.id != first.container.id
        await pool.close()

    run(body)


def test_a_fresh_acquire_never_reuses_and_its_container_goes() -> None:
    async def body() -> None:
        factory = MemoryContainerFactory()
        pool = pool_of(factory, prewarm=[(*NODE, 128, 1)])
        await pool.start()
        warm = await pool.acquire("whisk.system/test", *NODE, 128)
        await pool.release(warm, healthy=True)
        assert pool.free_count == 1
        fresh = await pool.acquire("whisk.system/test", *NODE, 128, fresh=True)
        assert fresh.needs_init
        assert fresh.container is not warm.container
        assert pool.stats.cold_starts == 1  # neither the warm one nor the stem cell
        assert pool.stats.prewarm_hits == 1  # the first, ordinary acquire only
        assert pool.stats.warm_hits == 0
        pool.finishing(fresh)  # a fresh container is never handed over
        again = await pool.acquire("whisk.system/test", *NODE, 128)
        assert again.container is warm.container
        await pool.release(fresh, healthy=True)
        assert fresh.container not in factory.alive()  # destroyed although healthy
        assert pool.free_count == 0
        await pool.release(again, healthy=True)
        assert pool.free_count == 1
        await pool.close()

    run(body)
