"""The invoker's container pool (reference/openwhisk-api.md §3.1).

The pool owns every action container of an invoker. The memory of busy, free and starting
containers never exceeds ``user_memory_mb``; prewarmed "stem cells" do not count until one
is taken. ``acquire`` chooses, in order: a free warm container of the same action
(unpaused if paused), a stem cell of the same kind and memory, a new (cold) container if
the memory fits, a new container after evicting just enough least-recently-used free
containers, or else waits its turn (FIFO, head of line) until memory frees. A container
runs one activation at a time.

A ``fresh`` acquire (the controller's health test action) takes neither a warm container
nor a stem cell nor a finishing one: it always gets a new container, which no other acquire
can take and which ``release`` destroys.

A container whose run answered but whose logs are still being read is "finishing"
(``finishing``): an acquire for the same action that finds no free warm container waits
for it rather than starting another one, and takes it over directly at its ``release``
(or plans afresh if it turned out unhealthy). Sequential calls of one action thus stay in
one container although the invoker answers before it reads the logs.

``release`` returns a healthy container to the free pool, where it is paused after
``pause_grace_s`` and destroyed after ``idle_timeout_s`` of idleness; an unhealthy one is
destroyed at once. A stem cell taken is replaced in the background.

Each decision is taken synchronously (reserving memory or marking a container busy) and
its slow part (create, unpause, destroy) done afterwards, so that concurrent acquires never
overcommit memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from whisk_services.ports.containers import Container, ContainerError, ContainerFactory

log = logging.getLogger("whisk.invoker.pool")


class PoolClosedError(ContainerError):
    """The pool was closed."""


@dataclass(frozen=True, slots=True)
class Prewarm:
    """``count`` stem cells of ``kind`` (image ``image``) with ``memory_mb`` each."""

    kind: str
    image: str
    memory_mb: int
    count: int


@dataclass(slots=True)
class PoolStats:
    """What the pool has done, for tests and metrics."""

    created: int = 0  # every container created, stem cells included
    cold_starts: int = 0  # containers created on the request path
    prewarm_hits: int = 0
    warm_hits: int = 0
    handoffs: int = 0  # warm hits on a container taken over as its logs were read
    inits: int = 0  # leases with needs_init
    evictions: int = 0
    pauses: int = 0
    unpauses: int = 0
    destroyed: int = 0


@dataclass(eq=False, slots=True)
class _Entry:
    kind: str
    image: str
    memory_mb: int
    action_key: str | None = None  # None: a stem cell
    container: Container | None = None  # None while starting
    paused: bool = False
    last_used: float = 0.0
    timer: asyncio.Task[None] | None = None
    pausing: asyncio.Task[None] | None = None
    finishing: bool = False
    handoff: asyncio.Future[bool] | None = None  # the acquire waiting to take it over
    fresh: bool = False  # for one activation only: never reused


@dataclass(frozen=True, slots=True)
class Lease:
    """A container granted to one activation until ``ContainerPool.release``."""

    container: Container
    action_key: str
    needs_init: bool
    memory_mb: int
    _entry: _Entry = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class _Request:
    action_key: str
    kind: str
    image: str
    memory_mb: int
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class _Plan:
    how: Literal["warm", "handoff", "prewarm", "cold"]
    entry: _Entry


class ContainerPool:
    """Action containers of one invoker, limited by memory."""

    def __init__(
        self,
        factory: ContainerFactory,
        *,
        user_memory_mb: int,
        pause_grace_s: float = 10.0,
        idle_timeout_s: float = 600.0,
        prewarm: Sequence[Prewarm | tuple[str, str, int, int]] = (),
        labels: Mapping[str, str] | None = None,
        network: str | None = None,
    ) -> None:
        self._factory = factory
        self._capacity = user_memory_mb
        self._pause_grace_s = pause_grace_s
        self._idle_timeout_s = idle_timeout_s
        self._prewarm = [p if isinstance(p, Prewarm) else Prewarm(*p) for p in prewarm]
        self._labels = dict(labels or {})
        self._network = network
        self._busy: set[_Entry] = set()  # running an activation, or starting for one
        self._free: list[_Entry] = []
        self._stem_cells: list[_Entry] = []
        self._waiters: deque[tuple[_Request, asyncio.Future[_Plan]]] = deque()
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False
        self.stats = PoolStats()

    # -- views for tests and metrics ---------------------------------------------------

    @property
    def used_memory_mb(self) -> int:
        """Memory of busy, starting and free containers (stem cells excluded)."""
        return sum(e.memory_mb for e in self._busy) + sum(e.memory_mb for e in self._free)

    @property
    def busy_count(self) -> int:
        """Containers running (or starting for) an activation."""
        return len(self._busy)

    @property
    def free_count(self) -> int:
        """Idle warm containers."""
        return len(self._free)

    @property
    def prewarm_count(self) -> int:
        """Stem cells ready."""
        return len(self._stem_cells)

    @property
    def waiting(self) -> int:
        """Acquires waiting for memory."""
        return sum(1 for _, future in self._waiters if not future.done())

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Create the configured stem cells."""
        await asyncio.gather(
            *(self._add_stem_cell(p) for p in self._prewarm for _ in range(p.count))
        )

    async def close(self) -> None:
        """Destroy every container; waiting and later acquires fail with PoolClosedError."""
        self._closed = True
        while self._waiters:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_exception(PoolClosedError("the container pool is closed"))
        for entry in self._free:
            if entry.timer is not None:
                entry.timer.cancel()
        while self._background:  # pauses, destroys and stem cells under way
            await asyncio.gather(*self._background, return_exceptions=True)
        entries = [*self._free, *self._busy, *self._stem_cells]
        self._free.clear()
        self._busy.clear()
        self._stem_cells.clear()
        await asyncio.gather(*(self._destroy(e) for e in entries))
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- acquire and release -------------------------------------------------------------

    async def acquire(
        self, action_key: str, kind: str, image: str, memory_mb: int, *, fresh: bool = False
    ) -> Lease:
        """A container for one activation of ``action_key`` (see the module's doc);
        ``fresh``: a new one, used once."""
        if self._closed:
            raise PoolClosedError("the container pool is closed")
        if memory_mb > self._capacity:
            raise ValueError(f"{memory_mb} MB exceed the pool's {self._capacity} MB")
        request = _Request(action_key, kind, image, memory_mb, fresh)
        plan = None if self._waiters else self._plan(request)
        if plan is None:
            future: asyncio.Future[_Plan] = asyncio.get_running_loop().create_future()
            self._waiters.append((request, future))
            try:
                plan = await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled() and future.exception() is None:
                    self._abandon(future.result())
                raise
        return await self._execute(request, plan)

    def finishing(self, lease: Lease) -> None:
        """The lease's run answered; only its logs remain to be read before ``release``."""
        if lease._entry in self._busy and not lease._entry.fresh:
            lease._entry.finishing = True

    async def release(self, lease: Lease, *, healthy: bool) -> None:
        """Give the container back: to the acquire waiting for it, else to the free pool
        if ``healthy``; an unhealthy one is destroyed."""
        entry = lease._entry
        if entry not in self._busy:
            if self._closed:
                return
            raise ValueError(f"lease of {lease.container.id} is not held")
        handoff, entry.handoff, entry.finishing = entry.handoff, None, False
        if handoff is not None and not handoff.done():
            if healthy and not self._closed:
                handoff.set_result(True)  # it stays busy, now for the waiting acquire
                return
            handoff.set_result(False)
        self._busy.discard(entry)
        if healthy and not self._closed and not entry.fresh:
            self._make_free(entry)
        else:
            await self._destroy(entry)
        self._drain()

    # -- decisions (synchronous) ---------------------------------------------------------

    def _plan(self, request: _Request) -> _Plan | None:
        """Take a warm container, a stem cell or memory for ``request``; None: wait."""
        if request.fresh:
            return self._plan_fresh(request)
        for entry in reversed(self._free):  # most recently used first
            if entry.action_key == request.action_key:
                self._free.remove(entry)
                if entry.timer is not None:
                    entry.timer.cancel()
                    entry.timer = None
                self._busy.add(entry)
                return _Plan("warm", entry)
        for entry in self._busy:
            if (
                entry.action_key == request.action_key
                and entry.finishing
                and not entry.handoff
                and not entry.fresh
            ):
                entry.handoff = asyncio.get_running_loop().create_future()
                return _Plan("handoff", entry)
        if not self._make_room(request.memory_mb):
            return None
        for entry in self._stem_cells:
            if entry.kind == request.kind and entry.memory_mb == request.memory_mb:
                self._stem_cells.remove(entry)
                entry.action_key = request.action_key
                self._busy.add(entry)
                self._spawn(self._add_stem_cell(self._config_of(entry)))
                return _Plan("prewarm", entry)
        entry = _Entry(request.kind, request.image, request.memory_mb, request.action_key)
        self._busy.add(entry)
        return _Plan("cold", entry)

    def _plan_fresh(self, request: _Request) -> _Plan | None:
        """Memory for a new container of its own, never reused; None: wait."""
        if not self._make_room(request.memory_mb):
            return None
        entry = _Entry(request.kind, request.image, request.memory_mb, fresh=True)
        entry.action_key = request.action_key
        self._busy.add(entry)
        return _Plan("cold", entry)

    def _make_room(self, memory_mb: int) -> bool:
        """Evict least recently used free containers until ``memory_mb`` fits, if it can."""
        missing = self.used_memory_mb + memory_mb - self._capacity
        if missing <= 0:
            return True
        if sum(e.memory_mb for e in self._free) < missing:
            return False
        for entry in sorted(self._free, key=lambda e: e.last_used):
            if missing <= 0:
                break
            missing -= entry.memory_mb
            self._free.remove(entry)
            if entry.timer is not None:
                entry.timer.cancel()
            self.stats.evictions += 1
            self._discard(entry)
        return True

    def _drain(self) -> None:
        """Serve waiting acquires in order while the one at the head can be served."""
        while self._waiters:
            request, future = self._waiters[0]
            if future.done():
                self._waiters.popleft()
                continue
            plan = self._plan(request)
            if plan is None:
                return
            self._waiters.popleft()
            future.set_result(plan)

    def _abandon(self, plan: _Plan) -> None:
        """Undo a plan whose acquire was cancelled before it could use it."""
        if plan.how == "handoff":
            if plan.entry.handoff is not None:
                plan.entry.handoff.cancel()
                plan.entry.handoff = None
            return
        self._busy.discard(plan.entry)
        if plan.how == "warm":
            self._make_free(plan.entry)
        elif plan.entry.container is not None:
            self._discard(plan.entry)
        self._drain()

    def _make_free(self, entry: _Entry) -> None:
        entry.last_used = time.monotonic()
        self._free.append(entry)
        entry.timer = asyncio.create_task(self._idle(entry))

    # -- slow work (asynchronous) -------------------------------------------------------

    async def _execute(self, request: _Request, plan: _Plan) -> Lease:
        entry = plan.entry
        if plan.how == "handoff":
            if not await self._take_over(entry):
                return await self.acquire(
                    request.action_key, request.kind, request.image, request.memory_mb
                )
            if entry.container is None:  # destroyed by close() meanwhile
                raise PoolClosedError("the container pool is closed")
            self.stats.warm_hits += 1
            self.stats.handoffs += 1
            return Lease(entry.container, request.action_key, False, request.memory_mb, entry)
        try:
            if plan.how == "warm":
                await self._resume(entry)
                self.stats.warm_hits += 1
            elif plan.how == "prewarm":
                self.stats.prewarm_hits += 1
            else:
                entry.container = await self._create(request.image, request.memory_mb)
                self.stats.cold_starts += 1
                if self._closed:
                    await self._destroy(entry)
        except BaseException:
            if entry in self._busy:
                self._busy.discard(entry)
                if entry.container is not None:
                    self._discard(entry)
                self._drain()
            raise
        if entry.container is None:  # destroyed by close() meanwhile (or just above)
            raise PoolClosedError("the container pool is closed")
        needs_init = plan.how != "warm"
        if needs_init:
            self.stats.inits += 1
        return Lease(entry.container, request.action_key, needs_init, request.memory_mb, entry)

    async def _take_over(self, entry: _Entry) -> bool:
        """Wait for the finishing container's release: True if it is now ours."""
        future = entry.handoff
        assert future is not None
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.result():
                self._busy.discard(entry)  # ours, but nobody will use it
                self._make_free(entry)
                self._drain()
            elif entry.handoff is future:
                entry.handoff = None
            raise

    async def _resume(self, entry: _Entry) -> None:
        """Wait for a pause under way, then unpause if paused."""
        if entry.pausing is not None:
            await asyncio.gather(entry.pausing, return_exceptions=True)
        if entry.paused and entry.container is not None:
            await entry.container.unpause()
            entry.paused = False
            self.stats.unpauses += 1

    async def _idle(self, entry: _Entry) -> None:
        """Pause a free container after the grace period, destroy it after the timeout."""
        try:
            if self._pause_grace_s < self._idle_timeout_s:
                await asyncio.sleep(self._pause_grace_s)
                entry.pausing = self._spawn(self._pause(entry))
                await asyncio.shield(entry.pausing)
                await asyncio.sleep(self._idle_timeout_s - self._pause_grace_s)
            else:
                await asyncio.sleep(self._idle_timeout_s)
        except asyncio.CancelledError:
            return  # taken (or evicted) meanwhile
        if entry in self._free:
            self._free.remove(entry)
            entry.timer = None
            await self._destroy(entry)
            self._drain()

    async def _pause(self, entry: _Entry) -> None:
        assert entry.container is not None
        try:
            await entry.container.pause()
        except ContainerError as error:
            log.warning("pausing %s failed, destroying it: %s", entry.container.id, error)
            if entry in self._free:
                self._free.remove(entry)
                self._discard(entry)
                self._drain()
            return
        entry.paused = True
        self.stats.pauses += 1

    async def _create(self, image: str, memory_mb: int) -> Container:
        container = await self._factory.create(
            image, memory_mb=memory_mb, labels=self._labels, network=self._network
        )
        self.stats.created += 1
        return container

    async def _add_stem_cell(self, config: Prewarm) -> None:
        try:
            container = await self._create(config.image, config.memory_mb)
        except ContainerError as error:
            log.warning("creating a %s stem cell failed: %s", config.kind, error)
            return
        entry = _Entry(config.kind, config.image, config.memory_mb, container=container)
        if self._closed:
            await self._destroy(entry)
        else:
            self._stem_cells.append(entry)

    def _config_of(self, entry: _Entry) -> Prewarm:
        return Prewarm(entry.kind, entry.image, entry.memory_mb, 1)

    def _discard(self, entry: _Entry) -> asyncio.Task[None] | None:
        """Start destroying the entry's container in the background."""
        container, entry.container = entry.container, None
        if container is None:
            return None
        return self._spawn(self._destroy_container(container))

    async def _destroy(self, entry: _Entry) -> None:
        """Destroy the entry's container (shielded: a cancelled caller cannot stop it)."""
        task = self._discard(entry)
        if task is not None:
            await asyncio.shield(task)

    async def _destroy_container(self, container: Container) -> None:
        try:
            await container.destroy()
        except ContainerError as error:
            log.warning("destroying %s failed: %s", container.id, error)
        self.stats.destroyed += 1

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task
