"""Per-namespace throttles: may a namespace start another invocation or fire now?

Three limits, each the namespace's own (``wskadmin limits``, in the subjects database) or
else the controller's default:

* ``invocationsPerMinute``: action invokes (a sequence is one) per calendar minute;
* ``firesPerMinute``: trigger fires per calendar minute;
* ``concurrentInvocations``: action activations in flight (sent to an invoker, completion
  not yet back), sequence components and rule activations included.

An invoke or fire is refused with 429 once the count has already reached the limit; a
refused request is not counted. A limit of 0 refuses everything.

**Counted across all controllers.** The limit in the message is the namespace's real one,
not a share of it: each controller publishes its own counts on the Kafka topic
``throttles`` (a ``ThrottleReport``: the per-namespace invokes and fires of the current
minute and the activations in flight) and keeps the latest report of every other
controller. A decision is this controller's live count plus the others' latest counts, a
dict lookup per controller, with no I/O in the request. Reports are sent at most every
``PUBLISH_INTERVAL_S`` and only when something changed (plus a heartbeat while there is
something to report), so the count is an approximation: a burst split between controllers
can overshoot the limit by what the other controllers admit within one publishing interval
(plus the topic's delivery time). A report of an older minute adds nothing to the
per-minute counts; a report received more than ``STALE_IN_FLIGHT_S`` ago adds nothing to
the in-flight counts (a controller that stopped). Without Kafka the throttles apply to
this controller's own counts.

The in-flight counts cannot leak: the controller's ack tracker ends every activation it
sent, with its completion or, past its time limit and the ack grace, with the record the
controller writes itself, and either way ``activation_done`` is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from whisk_services.controller import errors
from whisk_services.controller.changes import ChangeFollower
from whisk_services.controller.errors import ApiError
from whisk_services.model.errors import ModelError
from whisk_services.model.identity import Identity
from whisk_services.model.messages import ActivationMessage
from whisk_services.model.namespace_limits import SYSTEM_DEFAULTS, NamespaceLimits
from whisk_services.ports.documents import Changes, DocumentStore
from whisk_services.ports.messaging import (
    MessageBus,
    MessageConsumer,
    MessageProducer,
    MessagingError,
    TopicSpec,
)

log = logging.getLogger("whisk.controller.throttles")

TOPIC = "throttles"
TOPIC_RETENTION_MS = 10 * 60 * 1000
PUBLISH_INTERVAL_S = 0.1
HEARTBEAT_S = 2.0
STALE_IN_FLIGHT_S = 10.0
# An activation without a completion is dropped after the largest action time limit + 60 s.

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``); tests inject their own."""


def epoch_minute(now: float) -> int:
    """The calendar minute ``now`` falls in, as minutes since the epoch."""
    return int(now // 60)


def _counts(value: Any, what: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ModelError(f"malformed throttle report: '{what}' must be an object")
    for key, count in value.items():
        if not isinstance(key, str) or isinstance(count, bool) or not isinstance(count, int):
            raise ModelError(f"malformed throttle report: '{what}' must map names to integers")
        if count < 0:
            raise ModelError(f"malformed throttle report: '{what}' counts must be >= 0")
    return dict(value)


def _whole(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ModelError(f"malformed throttle report: '{key}' must be an integer >= 0")
    return value


@dataclass(frozen=True, slots=True)
class ThrottleReport:
    """One controller's counts, as it shares them on the ``throttles`` topic.

    ``minute`` is the epoch minute ``invocations`` and ``fires`` were counted in;
    ``in_flight`` holds the activations not completed yet; ``sent_ms`` orders the reports
    of one controller. Namespaces with nothing to count are left out.
    """

    controller: int
    minute: int
    sent_ms: int
    invocations: Mapping[str, int] = field(default_factory=dict)
    fires: Mapping[str, int] = field(default_factory=dict)
    in_flight: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "controller": self.controller,
            "minute": self.minute,
            "sentMs": self.sent_ms,
            "invocations": dict(self.invocations),
            "fires": dict(self.fires),
            "inFlight": dict(self.in_flight),
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        """The report ``raw`` holds; ModelError when it is not one."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise ModelError(f"malformed throttle report: {error}") from None
        if not isinstance(body, dict):
            raise ModelError("malformed throttle report: not a JSON object")
        return cls(
            controller=_whole(body, "controller"),
            minute=_whole(body, "minute"),
            sent_ms=_whole(body, "sentMs"),
            invocations=_counts(body.get("invocations", {}), "invocations"),
            fires=_counts(body.get("fires", {}), "fires"),
            in_flight=_counts(body.get("inFlight", {}), "inFlight"),
        )


@dataclass(frozen=True, slots=True)
class _Peer:
    report: ThrottleReport
    received: float


def _increment(counts: dict[str, int], namespace: str) -> None:
    counts[namespace] = counts.get(namespace, 0) + 1


class Throttles:
    """This controller's counts, the other controllers' latest ones, and the decisions.

    ``check_invoke`` and ``check_fire`` are what a route calls before it starts work for a
    namespace; ``activation_sent`` and ``activation_done`` (called by ``Invocations``) keep
    the in-flight counts.
    """

    def __init__(
        self,
        controller: int,
        subjects: DocumentStore,
        *,
        defaults: NamespaceLimits = SYSTEM_DEFAULTS,
        follower: ChangeFollower | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.controller = controller
        self.defaults = SYSTEM_DEFAULTS.merged(defaults)
        self._subjects = subjects
        self._clock = clock
        self._limits: dict[str, NamespaceLimits] = {}
        self._minute = epoch_minute(clock())
        self._invocations: dict[str, int] = {}
        self._fires: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self._activations: dict[str, str] = {}
        self._peers: dict[int, _Peer] = {}
        self.changed = False
        if follower is not None:
            follower.subscribe(self.limits_changed)

    # --- limits -----------------------------------------------------------------------------

    def set_defaults(self, defaults: NamespaceLimits) -> None:
        """Replace the defaults live (over the system's); every cached limit is resolved
        again."""
        self.defaults = SYSTEM_DEFAULTS.merged(defaults)
        self._limits.clear()

    def limits_changed(self, changes: Changes | None) -> None:
        """Forget the limits a batch of subjects changes touched (all of them on None)."""
        if changes is None:
            self._limits.clear()
            return
        for doc_id in changes.ids:
            namespace, _, kind = doc_id.rpartition("/")
            if kind == "limits":
                self._limits.pop(namespace, None)

    async def limits(self, namespace: str) -> NamespaceLimits:
        """The namespace's limits, every one set: its own over the defaults (cached until
        the subjects changes feed reports its limits document changed)."""
        cached = self._limits.get(namespace)
        if cached is not None:
            return cached
        doc = await self._subjects.get(NamespaceLimits.doc_id(namespace))
        own = NamespaceLimits()
        if doc is not None:
            try:
                own = NamespaceLimits.from_doc(doc.body)
            except ModelError as error:
                log.warning("limits of %s are malformed, defaults apply: %s", namespace, error)
        resolved = self.defaults.merged(own)
        self._limits[namespace] = resolved
        return resolved

    # --- decisions --------------------------------------------------------------------------

    async def check_invoke(self, identity: Identity) -> None:
        """Admit one action invoke (a sequence is one) for ``identity``'s namespace, or
        raise ApiError 429: too many this minute, or too many activations in flight."""
        namespace = identity.namespace
        limits = await self.limits(namespace)
        self._roll()
        allowed = limits.invocationsPerMinute or 0
        count = self.invocations(namespace)
        if count >= allowed:
            raise ApiError(429, errors.too_many_requests(count, allowed))
        allowed = limits.concurrentInvocations or 0
        count = self.in_flight(namespace)
        if count >= allowed:
            raise ApiError(429, errors.too_many_concurrent_requests(count, allowed))
        _increment(self._invocations, namespace)
        self.changed = True

    async def check_fire(self, identity: Identity) -> None:
        """Admit one trigger fire for ``identity``'s namespace, or raise ApiError 429."""
        namespace = identity.namespace
        limits = await self.limits(namespace)
        self._roll()
        allowed = limits.firesPerMinute or 0
        count = self.fires(namespace)
        if count >= allowed:
            raise ApiError(429, errors.too_many_requests(count, allowed))
        _increment(self._fires, namespace)
        self.changed = True

    def _roll(self) -> None:
        minute = epoch_minute(self._clock())
        if minute != self._minute:
            self._minute = minute
            self._invocations = {}
            self._fires = {}

    def _current_peers(self) -> list[ThrottleReport]:
        return [p.report for p in self._peers.values() if p.report.minute == self._minute]

    def invocations(self, namespace: str) -> int:
        """Invokes of ``namespace`` this minute, across the controllers."""
        self._roll()
        own = self._invocations.get(namespace, 0)
        return own + sum(r.invocations.get(namespace, 0) for r in self._current_peers())

    def fires(self, namespace: str) -> int:
        """Fires of ``namespace`` this minute, across the controllers."""
        self._roll()
        own = self._fires.get(namespace, 0)
        return own + sum(r.fires.get(namespace, 0) for r in self._current_peers())

    def in_flight(self, namespace: str) -> int:
        """Activations of ``namespace`` in flight, across the controllers."""
        fresh = self._clock() - STALE_IN_FLIGHT_S
        peers = self._peers.values()
        others = sum(p.report.in_flight.get(namespace, 0) for p in peers if p.received >= fresh)
        return self._in_flight.get(namespace, 0) + others

    # --- in-flight bookkeeping (Invocations calls these) --------------------------------------

    def activation_sent(self, message: ActivationMessage) -> None:
        """An activation is on its way to an invoker (called just before the send)."""
        if message.activation_id in self._activations:
            return
        namespace = message.user.namespace
        self._activations[message.activation_id] = namespace
        _increment(self._in_flight, namespace)
        self.changed = True

    def activation_done(self, activation_id: str) -> None:
        """The activation completed, or its send failed; unknown ids are ignored."""
        namespace = self._activations.pop(activation_id, None)
        if namespace is not None:
            self._release(namespace)

    def _release(self, namespace: str) -> None:
        left = self._in_flight.get(namespace, 0) - 1
        if left > 0:
            self._in_flight[namespace] = left
        else:
            self._in_flight.pop(namespace, None)
        self.changed = True

    # --- the exchange between controllers ---------------------------------------------------

    def report(self) -> ThrottleReport:
        """This controller's counts now (and the changes since the last report are taken)."""
        now = self._clock()
        self._roll()
        self.changed = False
        return ThrottleReport(
            controller=self.controller,
            minute=self._minute,
            sent_ms=int(now * 1000),
            invocations=dict(self._invocations),
            fires=dict(self._fires),
            in_flight=dict(self._in_flight),
        )

    @property
    def anything_to_report(self) -> bool:
        """True while a report would not be empty (the heartbeat keeps it fresh)."""
        self._roll()
        return bool(self._invocations or self._fires or self._in_flight)

    def absorb(self, report: ThrottleReport) -> None:
        """Keep ``report`` as its controller's latest (ignoring our own and older ones)."""
        if report.controller == self.controller:
            return
        known = self._peers.get(report.controller)
        if known is not None and known.report.sent_ms > report.sent_ms:
            return
        self._peers[report.controller] = _Peer(report, self._clock())


class ThrottleExchange:
    """Publishes this controller's ``ThrottleReport`` on the ``throttles`` topic and feeds
    the others' reports to ``Throttles.absorb``."""

    def __init__(
        self,
        throttles: Throttles,
        producer: MessageProducer,
        consumer: MessageConsumer,
        *,
        interval_s: float = PUBLISH_INTERVAL_S,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.throttles = throttles
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self._producer = producer
        self._consumer = consumer
        self._last_sent = float("-inf")
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def open(cls, bus: MessageBus, throttles: Throttles, **options: float) -> Self:
        """Create the topic, open a producer and a consumer (from now on), start both loops."""
        await bus.ensure_topics([TopicSpec(TOPIC, TOPIC_RETENTION_MS)])
        producer = bus.producer()
        try:
            consumer = await bus.consumer(TOPIC, f"{TOPIC}{throttles.controller}", "from_end")
        except BaseException:
            await producer.close()
            raise
        exchange = cls(throttles, producer, consumer, **options)
        exchange.start()
        return exchange

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="throttles-publish"),
            asyncio.create_task(self._read_loop(), name="throttles-read"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._consumer.close()
        await self._producer.close()

    async def publish(self) -> bool:
        """Send a report if something changed (or the heartbeat is due); True if sent."""
        throttles = self.throttles
        now = time.monotonic()
        due = throttles.anything_to_report and now - self._last_sent >= self.heartbeat_s
        if not (throttles.changed or due):
            return False
        report = throttles.report()
        try:
            await self._producer.send(TOPIC, report.encode())
        except MessagingError as error:
            throttles.changed = True  # try again on the next tick
            log.warning("throttle report not sent: %s", error)
            return False
        self._last_sent = now
        return True

    async def _publish_loop(self) -> None:
        while True:
            try:
                await self.publish()
            except Exception:  # a bug must not stop the reports
                log.exception("failed to publish the throttle report")
            await asyncio.sleep(self.interval_s)

    async def _read_loop(self) -> None:
        while True:
            try:
                raw = await self._consumer.receive()
            except MessagingError:
                return  # closed
            try:
                self.throttles.absorb(ThrottleReport.decode(raw))
            except ModelError as error:
                log.warning("ignoring a malformed throttle report: %s", error)
