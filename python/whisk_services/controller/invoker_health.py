"""The controller's view of each invoker's health: a small state machine per invoker, fed by
the outcomes of the activations it ran, published to Consul KV.

States (OpenWhisk's ``InvokerSupervision``, reference/openwhisk-api.md §3.2): ``healthy``,
``unhealthy``, ``unresponsive`` and ``offline``. Each invoker keeps a ring of its last 10
results: a success, a system error (a completion with ``isSystemError``) or a forced-ack
timeout (no completion within the action's time limit plus the ack grace). After each
result: more than 3 system errors in the ring → unhealthy; else more than 3 timeouts →
unresponsive; else healthy. A success of the health test action clears the ring and makes
the invoker healthy at once: the test runs in a fresh container, so it proves the invoker
can start and run an action.

Offline comes from the registry: an invoker whose Consul check is not passing (or that is
not registered at all) is offline whatever its ring says. When it passes again it is a new
process (or came back from a partition): its ring is cleared and it starts healthy. This
departs from OpenWhisk, whose invokers start unhealthy until a test action succeeds: here
the invoker's TTL check, passed only while it runs, stands in for that first test.

While an invoker is unhealthy or unresponsive the controller sends it the health test
action right away and then once per health cycle (``send_test``), unless it is drained. The
balancer uses only healthy invokers (``HealthyInvokers``).

Each controller publishes its own view of each invoker, as JSON, at
``whisk/invokers/invoker<N>/state/controller<M>`` (``state_key``): the state and why, with
``drained`` and ``inFlight`` (``drain_view``). It publishes at once (the next round, woken
for it) when the state or the drain flag changed, or the flights of a drained invoker (an
operator waits for them to reach 0); within ``FLIGHTS_PUBLISH_S`` when only the flights of
an undrained invoker changed; at most once per health cycle when only its counters (last
ack, recent errors) changed. A publication Consul refused is retried the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from whisk_services.controller.drain_view import DrainView, drains_seen
from whisk_services.controller.invoker_pool import (
    INVOKERS_KV_PREFIX,
    ConsulInvokers,
    InvokerInfo,
    InvokerView,
)
from whisk_services.model.activation import new_activation_id
from whisk_services.model.entities import Action
from whisk_services.model.exec import DEFAULT_KINDS, CodeExec
from whisk_services.model.limits import ActionLimits
from whisk_services.model.messages import ActivationMessage, MessageUser
from whisk_services.model.names import EntityPath
from whisk_services.ports.discovery import DiscoveryError, ServiceRegistry
from whisk_services.ports.documents import DocumentConflict, DocumentStore

log = logging.getLogger("whisk.controller.health")

RING_SIZE = 10
THRESHOLD = 3  # more than this many of one kind of failure in the ring changes the state
HEALTH_TEST_ACTION = "invokerHealthTestAction"
HEALTH_TEST_CODE = "function main(params) { return params; }"
HEALTH_TEST_MEMORY_MB = 128
SYSTEM_NAMESPACE = "whisk.system"
SYSTEM_UUID = "00000000-0000-0000-0000-000000000000"
# The flights of an undrained invoker change with every activation: published at most this
# often (a drained invoker's, at once).
FLIGHTS_PUBLISH_S = 1.0
ROUND_GAP_S = 0.05  # rounds woken one after another are at least this far apart


def health_test_action_name(controller: int) -> str:
    """The name of controller ``controller``'s test action (in ``whisk.system``)."""
    return f"{HEALTH_TEST_ACTION}{controller}"


def state_key(invoker: int, controller: int) -> str:
    """The KV key where ``controller`` publishes its view of ``invoker``."""
    return f"{INVOKERS_KV_PREFIX}invoker{invoker}/state/controller{controller}"


class State(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNRESPONSIVE = "unresponsive"
    OFFLINE = "offline"


class Outcome(StrEnum):
    SUCCESS = "success"
    SYSTEM_ERROR = "system error"
    TIMEOUT = "ack timeout"


@dataclass(frozen=True, slots=True)
class Result:
    """One entry of the ring."""

    outcome: Outcome
    activation_id: str
    at: float  # epoch seconds
    detail: str = ""


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


@dataclass(slots=True)
class InvokerHealth:
    """The state machine of one invoker."""

    instance: int
    state: State = State.HEALTHY
    reason: str = "registered and passing in consul"
    since: float = field(default_factory=time.time)
    last_ack: float | None = None
    ring: deque[Result] = field(default_factory=lambda: deque(maxlen=RING_SIZE))

    def _move(self, state: State, reason: str, now: float) -> bool:
        changed = state is not self.state
        if changed:
            self.since = now
        self.state, self.reason = state, reason
        return changed

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.ring if r.outcome is outcome)

    def record(self, result: Result, *, test: bool = False) -> bool:
        """Add ``result`` (``test``: of the health test action); True if the state changed.
        An offline invoker keeps its ring up to date but stays offline."""
        if result.outcome is not Outcome.TIMEOUT:
            self.last_ack = result.at
        if test and result.outcome is Outcome.SUCCESS:
            self.ring.clear()
        self.ring.append(result)
        if self.state is State.OFFLINE:
            return False
        if test and result.outcome is Outcome.SUCCESS:
            return self._move(State.HEALTHY, "the health test action succeeded", result.at)
        state, reason = self._judge()
        if state is State.HEALTHY:
            if self.state is State.HEALTHY:
                return False
            reason = f"a {result.outcome} after being {self.state}"
        return self._move(state, reason, result.at)

    def _judge(self) -> tuple[State, str]:
        """The state the ring calls for, and why."""
        errors, timeouts = self.count(Outcome.SYSTEM_ERROR), self.count(Outcome.TIMEOUT)
        if errors > THRESHOLD:
            latest = next(r for r in reversed(self.ring) if r.outcome is Outcome.SYSTEM_ERROR)
            detail = f": {latest.detail}" if latest.detail else ""
            return State.UNHEALTHY, (
                f"{errors} system errors among the last {len(self.ring)} results "
                f"(latest {latest.activation_id}{detail})"
            )
        if timeouts > THRESHOLD:
            return State.UNRESPONSIVE, (
                f"{timeouts} activations among the last {len(self.ring)} got no completion "
                "in time (forced acks)"
            )
        return State.HEALTHY, ""

    def registry(self, passing: bool, detail: str, now: float) -> bool:
        """The registry's view: not passing → offline; passing again → healthy, ring cleared."""
        if not passing:
            if self.state is State.OFFLINE:
                return False
            return self._move(State.OFFLINE, detail, now)
        if self.state is not State.OFFLINE:
            return False
        self.ring.clear()
        return self._move(State.HEALTHY, "passing in consul again", now)

    def to_json(self, controller: int) -> dict[str, object]:
        return {
            "state": str(self.state),
            "reason": self.reason,
            "since": _iso(self.since),
            "lastAck": _iso(self.last_ack),
            "recentErrors": [
                {"activationId": r.activation_id, "kind": str(r.outcome), "at": _iso(r.at)}
                | ({"detail": r.detail} if r.detail else {})
                for r in self.ring
                if r.outcome is not Outcome.SUCCESS
            ],
            "controller": controller,
        }


SendTest = Callable[[int], Awaitable[None]]


def registry_health(pool: InvokerView) -> dict[int, tuple[bool, str]]:
    """Each known invoker: passing in the registry?, and why not. A static list is all
    passing."""
    if isinstance(pool, ConsulInvokers):
        return {
            n: (
                r.health == "passing",
                f"consul check {r.health}" + (f": {r.output}" if r.output else ""),
            )
            for n, r in pool.registered.items()
        }
    return {info.instance: (True, "") for info in pool.view}


class InvokerHealthMonitor:
    """The health of every invoker a controller knows, with the loop that syncs it with the
    registry, sends test actions and publishes to Consul KV."""

    def __init__(
        self,
        pool: InvokerView,
        controller: int,
        *,
        registry: ServiceRegistry | None = None,
        cycle_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.controller = controller
        self.registry = registry
        self.cycle_s = cycle_s
        self.send_test: SendTest | None = None
        self.invokers: dict[int, InvokerHealth] = {}
        self.drains = DrainView()
        self._clock = clock
        self._dirty: set[int] = set()  # counters changed since the last publication
        self._changed: set[int] = set()  # state or drain changed: publish now
        self._flights: set[int] = set()  # an undrained invoker's flights changed
        self._flights_published = clock()
        self._failing: set[int] = set()  # their last publication failed
        self._last_test: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        if isinstance(pool, ConsulInvokers):
            pool.listeners.append(self._wake.set)

    def health(self, instance: int) -> InvokerHealth:
        found = self.invokers.get(instance)
        if found is None:
            found = self.invokers[instance] = InvokerHealth(instance, since=self._clock())
            self._changed.add(instance)
        return found

    def state(self, instance: int) -> State:
        found = self.invokers.get(instance)
        return found.state if found is not None else State.HEALTHY

    def usable(self, instance: int) -> bool:
        return self.state(instance) is State.HEALTHY

    def record(
        self,
        instance: int,
        outcome: Outcome,
        activation_id: str,
        *,
        test: bool = False,
        detail: str = "",
    ) -> None:
        """An activation on ``instance`` ended with ``outcome``."""
        invoker = self.health(instance)
        before = invoker.state
        if invoker.record(Result(outcome, activation_id, self._clock(), detail), test=test):
            log.warning("invoker%d: %s -> %s (%s)", instance, before, invoker.state, invoker.reason)
            self._changed.add(instance)
            self._wake.set()
        else:
            self._dirty.add(instance)

    def in_flight_changed(self, instance: int) -> None:
        """The count of this controller's activations in flight on ``instance`` changed."""
        self.health(instance)
        if self.drains.is_drained(instance):
            self._changed.add(instance)
            self._wake.set()
        else:
            self._flights.add(instance)

    def sync(self) -> None:
        """Bring the offline states in line with the registry, and the drain flags in line
        with the pool's."""
        known = registry_health(self.pool)
        now = self._clock()
        for instance in set(known) | set(self.invokers):
            passing, detail = known.get(instance, (False, "not registered in consul"))
            invoker = self.health(instance)
            before = invoker.state
            if invoker.registry(passing, detail, now):
                log.warning(
                    "invoker%d: %s -> %s (%s)", instance, before, invoker.state, invoker.reason
                )
                self._changed.add(instance)
        for instance in sorted(self.drains.set_drained(drains_seen(self.pool))):
            self.health(instance)
            log.info(
                "invoker%d %s: %d activation(s) of controller%d in flight there",
                instance,
                "drained" if self.drains.is_drained(instance) else "undrained",
                self.drains.flights(instance),
                self.controller,
            )
            self._changed.add(instance)

    def needs_test(self) -> list[int]:
        """The invokers due a test action now."""
        now = self._clock()
        due = []
        for instance, invoker in sorted(self.invokers.items()):
            if self.drains.is_drained(instance):
                continue  # no new work, not even a test; tested when undrained
            if invoker.state not in (State.UNHEALTHY, State.UNRESPONSIVE):
                self._last_test.pop(instance, None)
                continue
            last = self._last_test.get(instance)
            if last is None or now - last >= self.cycle_s:
                self._last_test[instance] = now
                due.append(instance)
        return due

    def view_of(self, instance: int) -> dict[str, object]:
        """The JSON this controller publishes for ``instance``."""
        return self.invokers[instance].to_json(self.controller) | self.drains.fields(instance)

    async def publish(self, instances: set[int]) -> None:
        if self.registry is None:
            return
        for instance in sorted(instances):
            body = json.dumps(self.view_of(instance)).encode()
            try:
                await self.registry.kv_put(state_key(instance, self.controller), body)
            except DiscoveryError as error:
                self._changed.add(instance)  # retried next round
                if instance not in self._failing:
                    self._failing.add(instance)
                    log.warning("cannot publish the state of invoker%d: %s", instance, error)
                continue
            if instance in self._failing:
                self._failing.discard(instance)
                log.info("published the state of invoker%d again", instance)

    async def tick(self, *, counters: bool = False) -> None:
        """One round: sync with the registry, send the due tests, publish what changed
        (and, with ``counters``, what only counted)."""
        self.sync()
        if self.send_test is not None:
            for instance in self.needs_test():
                try:
                    await self.send_test(instance)
                except Exception as error:  # retried next cycle
                    log.warning("cannot send the health test to invoker%d: %s", instance, error)
        publish, self._changed = self._changed, set()
        if counters:
            publish |= self._dirty
            self._dirty = set()
        now = self._clock()
        if self._flights and (counters or now - self._flights_published >= FLIGHTS_PUBLISH_S):
            publish |= self._flights
            self._flights = set()
            self._flights_published = now
        await self.publish(publish)

    async def _run(self) -> None:
        step = min(1.0, self.cycle_s)
        last_counters = self._clock()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), step)
            self._wake.clear()
            now = self._clock()
            counters = now - last_counters >= self.cycle_s
            if counters:
                last_counters = now
            try:
                await self.tick(counters=counters)
            except Exception:
                log.exception("the invoker health round failed")
            await asyncio.sleep(ROUND_GAP_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="invoker-health")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class HealthyInvokers:
    """The pool's view without the invokers the monitor does not find healthy."""

    def __init__(self, pool: InvokerView, monitor: InvokerHealthMonitor) -> None:
        self.pool = pool
        self.monitor = monitor

    @property
    def view(self) -> tuple[InvokerInfo, ...]:
        return tuple(i for i in self.pool.view if self.monitor.usable(i.instance))


def states_by_invoker(tree: Mapping[str, bytes]) -> dict[int, dict[int, dict[str, object]]]:
    """The published states in a KV tree under ``whisk/invokers/``: invoker → controller →
    the JSON each published (unreadable values are skipped)."""
    found: dict[int, dict[int, dict[str, object]]] = {}
    for key, value in tree.items():
        parts = key[len(INVOKERS_KV_PREFIX) :].split("/")
        if (
            len(parts) != 3
            or parts[1] != "state"
            or not parts[0].startswith("invoker")
            or not parts[2].startswith("controller")
        ):
            continue
        invoker, controller = parts[0][len("invoker") :], parts[2][len("controller") :]
        if not (invoker.isdigit() and controller.isdigit()):
            continue
        try:
            body = json.loads(value)
        except ValueError:
            continue
        if isinstance(body, dict):
            found.setdefault(int(invoker), {})[int(controller)] = body
    return found


@dataclass(frozen=True, slots=True)
class HealthTestAction:
    """Controller ``controller``'s stored test action and the revision to send."""

    controller: int
    action: Action
    revision: str

    @classmethod
    def build(cls, controller: int) -> Action:
        return Action(
            path=EntityPath((SYSTEM_NAMESPACE,)),
            name=health_test_action_name(controller),
            exec=CodeExec(DEFAULT_KINDS["nodejs:default"], HEALTH_TEST_CODE),
            limits=ActionLimits(memory=HEALTH_TEST_MEMORY_MB),
        )

    @classmethod
    async def ensure(cls, whisks: DocumentStore, controller: int) -> HealthTestAction:
        """The test action, created in the whisks database if missing (as OpenWhisk's
        controller does at start)."""
        action = cls.build(controller)
        doc = await whisks.get(action.doc_id())
        if doc is None:
            try:
                revision = await whisks.put(action.doc_id(), action.to_doc())
                return cls(controller, action, revision)
            except DocumentConflict:  # another start raced us
                doc = await whisks.get(action.doc_id())
                if doc is None:
                    raise
        return cls(controller, Action.from_doc(doc.body), doc.rev)

    def message(self) -> ActivationMessage:
        """A test activation: fresh container, non-blocking, empty parameters."""
        activation_id = new_activation_id()
        return ActivationMessage(
            transid=f"health-{activation_id[:12]}",
            action=self.action.fqn,
            action_version=str(self.action.version),
            revision=self.revision,
            user=MessageUser(SYSTEM_NAMESPACE, SYSTEM_NAMESPACE, SYSTEM_UUID),
            activation_id=activation_id,
            controller=self.controller,
            blocking=False,
            accepted_ms=time.time_ns() // 1_000_000,
            fresh_container=True,
        )
