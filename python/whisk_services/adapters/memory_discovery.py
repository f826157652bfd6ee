"""The discovery port in memory, for unit tests: one agent's services and a key-value store.

Services keep their health: an HTTP check is taken as passing, a TTL check starts critical
until ``pass_ttl``, no check is passing. ``instances`` and ``kv_tree`` answer at once
without an index, and with one wait (up to ``wait_s``) until something changed. Setting
``down`` makes every call raise DiscoveryError, as an unreachable agent does. ``calls``
lists ``(method, service id)`` of every register and deregister, for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib

from whisk_services.ports.discovery import DiscoveryError, Health, Instance, Registration


class MemoryRegistry:
    """A ServiceRegistry held in memory."""

    def __init__(self) -> None:
        self.services: dict[str, Registration] = {}
        self.health: dict[str, tuple[Health, str]] = {}
        self.kv: dict[str, bytes] = {}
        self.calls: list[tuple[str, str]] = []
        self.down = False
        self._index = 1
        self._changed = asyncio.Condition()

    def _check_up(self) -> None:
        if self.down:
            raise DiscoveryError("the agent is unreachable (down)")

    async def _bump(self) -> None:
        self._index += 1
        async with self._changed:
            self._changed.notify_all()

    async def _wait(self, index: int | None, wait_s: float) -> None:
        if index is None or index != self._index:
            return
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait_s)
        # Python 3.11's wait_for returns the result when the change and a cancellation
        # arrive together, swallowing the cancellation: a follower being closed would wait on.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError

    async def register(self, registration: Registration) -> None:
        self._check_up()
        self.calls.append(("register", registration.id))
        self.services[registration.id] = registration
        check = registration.check
        health: Health = "critical" if check is not None and check.ttl_s is not None else "passing"
        self.health[registration.id] = (health, "")
        await self._bump()

    async def deregister(self, service_id: str) -> None:
        self._check_up()
        self.calls.append(("deregister", service_id))
        self.services.pop(service_id, None)
        self.health.pop(service_id, None)
        await self._bump()

    async def _ttl(self, service_id: str, health: Health, note: str) -> None:
        self._check_up()
        if service_id not in self.services:
            raise DiscoveryError(f"no service {service_id}")
        self.health[service_id] = (health, note)
        await self._bump()

    async def pass_ttl(self, service_id: str, note: str = "") -> None:
        await self._ttl(service_id, "passing", note)

    async def fail_ttl(self, service_id: str, note: str = "") -> None:
        await self._ttl(service_id, "critical", note)

    async def local_services(self) -> dict[str, Registration]:
        self._check_up()
        return dict(self.services)

    async def instances(
        self, name: str, *, index: int | None = None, wait_s: float = 60.0
    ) -> tuple[list[Instance], int]:
        self._check_up()
        await self._wait(index, wait_s)
        found = [
            Instance(
                id=r.id,
                name=r.name,
                address=r.address,
                port=r.port,
                tags=tuple(r.tags),
                meta=dict(r.meta),
                health=self.health[r.id][0],
                output=self.health[r.id][1],
            )
            for r in self.services.values()
            if r.name == name
        ]
        return found, self._index

    async def kv_get(self, key: str) -> bytes | None:
        self._check_up()
        return self.kv.get(key)

    async def kv_put(self, key: str, value: bytes) -> None:
        self._check_up()
        self.kv[key] = value
        await self._bump()

    async def kv_delete(self, key: str) -> None:
        self._check_up()
        self.kv.pop(key, None)
        await self._bump()

    async def kv_tree(
        self, prefix: str, *, index: int | None = None, wait_s: float = 60.0
    ) -> tuple[dict[str, bytes], int]:
        self._check_up()
        await self._wait(index, wait_s)
        return {k: v for k, v in self.kv.items() if k.startswith(prefix)}, self._index
