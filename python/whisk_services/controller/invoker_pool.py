"""Which invokers a controller may send to: the view the balancer chooses from.

Without Consul the view is the configured list (``WHISK_CONTROLLER_INVOKERS``), each taken
as healthy, its memory unknown (never full). With Consul (``ConsulInvokers``) the view
follows the registry by blocking queries, one background task for service ``invoker`` and
one for the KV tree ``whisk/invokers/``: the instances whose health is passing, by instance
number, with the user memory they registered, minus those drained (key
``whisk/invokers/invoker<N>/drain`` present, written by ``wskadmin invoker drain``).

When the registry cannot be reached the last known view stays in force; the follower
retries after a short pause and logs once per outage. Before an invoker first enters the
view, ``on_new`` (the controller: create topic ``invoker<N>``) is awaited, so no activation
is sent to a topic that does not exist yet. Each of ``listeners`` is called when the drained
invokers or the registered invokers' health changed (the health monitor wakes on it, so an
invoker's turn to offline, or back, is published at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from whisk_services.ports.discovery import DiscoveryError, Health, Instance, ServiceRegistry

log = logging.getLogger("whisk.controller.invokers")

INVOKER_SERVICE = "invoker"
INVOKERS_KV_PREFIX = "whisk/invokers/"
_DRAIN_KEY = re.compile(r"^whisk/invokers/invoker(\d+)/drain$")
_INVOKER_ID = re.compile(r"^invoker(\d+)$")


def drain_key(instance: int) -> str:
    """The KV key whose presence drains invoker ``instance``."""
    return f"{INVOKERS_KV_PREFIX}invoker{instance}/drain"


@dataclass(frozen=True, slots=True)
class InvokerInfo:
    """An invoker the balancer may choose: its instance number and user memory (None:
    unknown, taken as never full)."""

    instance: int
    user_memory_mb: int | None = None


class InvokerView(Protocol):
    """The invokers to balance over now, in a stable order."""

    @property
    def view(self) -> tuple[InvokerInfo, ...]:
        """The usable invokers (healthy, not drained)."""
        ...


class StaticInvokers:
    """The configured invokers, all healthy, their memory unknown."""

    def __init__(self, instances: Sequence[int]) -> None:
        if not instances:
            raise ValueError("a balancer needs at least one invoker")
        self._view = tuple(InvokerInfo(n) for n in instances)

    @property
    def view(self) -> tuple[InvokerInfo, ...]:
        return self._view


@dataclass(frozen=True, slots=True)
class Registered:
    """An invoker as the registry knows it (healthy or not)."""

    instance: int
    health: Health
    user_memory_mb: int | None
    address: str
    port: int
    output: str = ""  # the check's output (why it is not passing)


def _digits(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def registered(instance: Instance) -> Registered | None:
    """An instance of service ``invoker`` as a Registered invoker (None: not one of ours)."""
    number = _digits(instance.meta.get("instance"))
    if number is None:
        matched = _INVOKER_ID.match(instance.id)
        number = int(matched.group(1)) if matched else None
    if number is None:
        return None
    memory = _digits(instance.meta.get("userMemory"))
    return Registered(
        number, instance.health, memory, instance.address, instance.port, instance.output
    )


def drained(tree: Mapping[str, bytes]) -> frozenset[int]:
    """The instances a KV tree under ``whisk/invokers/`` drains."""
    found = (_DRAIN_KEY.match(key) for key in tree)
    return frozenset(int(m.group(1)) for m in found if m is not None)


NewInvoker = Callable[[int], Awaitable[None]]


class ConsulInvokers:
    """The invokers registered in the discovery registry, followed by blocking queries."""

    def __init__(
        self,
        registry: ServiceRegistry,
        *,
        on_new: NewInvoker | None = None,
        wait_s: float = 60.0,
        retry_s: float = 1.0,
    ) -> None:
        self._registry = registry
        self._on_new = on_new
        self._wait_s = wait_s
        self._retry_s = retry_s
        self.registered: dict[int, Registered] = {}
        self.drained: frozenset[int] = frozenset()
        self._announced: set[int] = set()  # on_new succeeded for these
        self._view: tuple[InvokerInfo, ...] = ()
        self._tasks: list[asyncio.Task[None]] = []
        self._first_answers = (asyncio.Event(), asyncio.Event())  # instances, drains
        self.changes = 0  # bumped whenever the view changed (for tests and logs)
        # Called when ``drained`` or a registered invoker's health changed.
        self.listeners: list[Callable[[], None]] = []

    @property
    def view(self) -> tuple[InvokerInfo, ...]:
        return self._view

    async def start(self, first_wait_s: float = 5.0) -> None:
        """Start following; wait up to ``first_wait_s`` for the registry's first answer
        (unreachable: start with an empty view and keep trying in the background)."""
        self._tasks = [
            asyncio.create_task(self._follow_instances(), name="invokers-follow"),
            asyncio.create_task(self._follow_drains(), name="invokers-drains"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(event.wait() for event in self._first_answers)), first_wait_s
            )

    async def close(self) -> None:
        """Stop following."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _follow_instances(self) -> None:
        index: int | None = None
        outage = False
        while True:
            try:
                found, next_index = await self._registry.instances(
                    INVOKER_SERVICE, index=index, wait_s=self._wait_s
                )
            except DiscoveryError as error:
                if not outage:
                    log.warning("consul unreachable, keeping the last known invokers: %s", error)
                    outage = True
                index = None
                await asyncio.sleep(self._retry_s)
                continue
            if outage:
                log.info("consul reachable again")
                outage = False
            entries = (registered(instance) for instance in found)
            before = self._health_by_instance()
            self.registered = {r.instance: r for r in entries if r is not None}
            complete = await self._announce(self._healthy())
            self._update()
            if self._health_by_instance() != before:
                self._notify()
            self._first_answers[0].set()
            if complete:
                index = next_index
            else:  # a new invoker's topic could not be made: ask again soon
                index = None
                await asyncio.sleep(self._retry_s)

    async def _follow_drains(self) -> None:
        index: int | None = None
        outage = False
        while True:
            try:
                tree, next_index = await self._registry.kv_tree(
                    INVOKERS_KV_PREFIX, index=index, wait_s=self._wait_s
                )
            except DiscoveryError as error:
                if not outage:
                    log.warning("consul KV unreachable, keeping the last known drains: %s", error)
                    outage = True
                index = None
                await asyncio.sleep(self._retry_s)
                continue
            outage = False
            drains, before = drained(tree), self.drained
            self.drained = drains
            self._update()
            if drains != before:
                self._notify()
            self._first_answers[1].set()
            index = next_index

    def _notify(self) -> None:
        for listener in self.listeners:
            try:
                listener()
            except Exception:  # a listener must not stop the follower
                log.exception("a listener of the invokers' view failed")

    def _health_by_instance(self) -> dict[int, Health]:
        return {n: r.health for n, r in self.registered.items()}

    def _healthy(self) -> list[int]:
        return [n for n, r in self.registered.items() if r.health == "passing"]

    async def _announce(self, instances: Iterable[int]) -> bool:
        """Run ``on_new`` for each instance not announced yet; False if one failed."""
        complete = True
        for instance in sorted(set(instances) - self._announced):
            if self._on_new is not None:
                try:
                    await self._on_new(instance)
                except Exception as error:  # retried; must not stop the follower
                    log.warning("cannot prepare invoker%d: %s", instance, error)
                    complete = False
                    continue
            self._announced.add(instance)
        return complete

    def _update(self) -> None:
        view = tuple(
            InvokerInfo(n, self.registered[n].user_memory_mb)
            for n in sorted(self._healthy())
            if n in self._announced and n not in self.drained
        )
        if view != self._view:
            self._view = view
            self.changes += 1
            log.info(
                "invokers in use: %s (registered %s, drained %s)",
                ",".join(str(i.instance) for i in view) or "none",
                ",".join(f"{n}:{r.health}" for n, r in sorted(self.registered.items())) or "none",
                ",".join(map(str, sorted(self.drained))) or "none",
            )
