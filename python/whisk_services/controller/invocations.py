"""Send activation messages to the invokers and wait for their completions.

One producer sends each ``ActivationMessage`` to topic ``invoker<N>`` (N chosen by the
balancer); one consumer reads this controller's ``completed<M>`` topic and resolves the
waiter of each blocking activation by id. A blocking caller registers its waiter before the
message leaves, so a fast completion cannot slip by.

A ``tracker`` (the throttles) hears of every activation sent and of every completion, to
count the activations in flight; the balancer hears of them too (``acquire`` at the send,
``release`` at the completion or a failed send), to count each invoker's memory in flight.

A completion may be lost (an invoker restart, a broker hiccup), so a waiting caller also
looks for the activation record in the activations store, cheaply and rarely: 1 s after the
send, then every 2 s, then every 15 s once 15 s have passed. A completion that carries only
the activation id (no record) is answered from the store too.

The ack tracker (``acks.AckTracker``) follows every activation sent until its completion:
one that gets none within its time limit plus the ack grace is forced complete, its record
stored (a whisk internal error when the invoker wrote none), its memory released in the
balancer, its waiting caller answered and a timeout counted against the invoker's health.
With a health monitor (``invoker_health``), each completion counts as a success or a system
error of its invoker, and ``send_health_test`` sends the test action straight to an
invoker's topic. The monitor also hears how many activations each invoker still owes this
controller (``acks.AckTracker.in_flight``), to publish it for operators draining invokers.

When the controller stops, ``end_waits`` ends every blocking wait (and any started later at
once) as if its time were up: the caller is answered 202 with the activation id, whose
record the invoker still writes (``controller.shutdown``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from whisk_services.controller.acks import (
    DEFAULT_ACK_GRACE_S,
    DEFAULT_TIMEOUT_MS,
    AckTracker,
    Flight,
)
from whisk_services.controller.balancer import DEFAULT_MEMORY_MB, Balancer
from whisk_services.controller.invoker_health import InvokerHealthMonitor, Outcome
from whisk_services.model.activation import Activation, ActivationStatus
from whisk_services.model.errors import ModelError
from whisk_services.model.messages import ActivationMessage, CompletionMessage
from whisk_services.ports.documents import DocumentStore, DocumentStoreError, JsonObject
from whisk_services.ports.messaging import (
    MessageBus,
    MessageConsumer,
    MessageProducer,
    MessagingError,
    TopicSpec,
)

log = logging.getLogger("whisk.controller.invocations")

HOUR_MS = 3_600_000
COMPLETED_RETENTION_MS = HOUR_MS
INVOKER_RETENTION_MS = 48 * HOUR_MS

# After a completion without its record, the record is written by the invoker shortly
# after: look again soon, backing off to this interval.
AFTER_COMPLETION_FIRST_S = 0.05
AFTER_COMPLETION_MAX_S = 2.0

PollSchedule = Callable[[], Iterable[float]]
"""Makes the offsets (seconds after the send, increasing) at which to read the store."""

_STATUS_BY_LABEL = {status.label: status for status in ActivationStatus}


def invoker_topic(invoker: int) -> str:
    """The topic invoker ``invoker`` reads its activation messages from."""
    return f"invoker{invoker}"


def completed_topic(controller: int) -> str:
    """The topic controller ``controller`` reads its completions from."""
    return f"completed{controller}"


def topics(controller: int, invokers: Sequence[int]) -> list[TopicSpec]:
    """The topics a controller needs: its completions (1 h) and each invoker's (48 h)."""
    return [
        TopicSpec(completed_topic(controller), COMPLETED_RETENTION_MS),
        *(TopicSpec(invoker_topic(n), INVOKER_RETENTION_MS) for n in invokers),
    ]


def store_poll_offsets() -> Iterator[float]:
    """1 s, then every 2 s up to 15 s, then every 15 s: 1, 3, 5, ..., 15, 30, 45, ..."""
    yield from (float(s) for s in range(1, 16, 2))
    yield from (float(s) for s in itertools.count(30, 15))


def _after_completion_offsets(since: float) -> Iterator[float]:
    delay, at = AFTER_COMPLETION_FIRST_S, since
    while True:
        at += delay
        yield at
        delay = min(delay * 2, AFTER_COMPLETION_MAX_S)


HEALTH_TEST_TIMEOUT_MS = 60_000  # the test action's time limit (OpenWhisk's default)


def _error_of(record: JsonObject | None) -> str:
    """The error message of a completion's record, if it carries one."""
    response = record.get("response") if record else None
    result = response.get("result") if isinstance(response, dict) else None
    error = result.get("error") if isinstance(result, dict) else None
    return error if isinstance(error, str) else ""


@dataclass(frozen=True, slots=True)
class Finished:
    """A completed activation: its record in API shape (logs included) and its status."""

    record: JsonObject
    status: ActivationStatus


def _status_of(record: JsonObject) -> ActivationStatus | None:
    response = record.get("response")
    if not isinstance(response, dict):
        return None
    label = response.get("status")
    return _STATUS_BY_LABEL.get(label) if isinstance(label, str) else None


class ActivationTracker(Protocol):
    """Hears of the activations this controller sends and of their completions."""

    def activation_sent(self, message: ActivationMessage) -> None:
        """``message`` is about to be sent (undone by ``activation_done`` if it fails)."""
        ...

    def activation_done(self, activation_id: str) -> None:
        """The activation completed, or its send failed."""
        ...


class Invocations:
    """The controller's invoke path: sends activations, resolves waiting callers."""

    def __init__(
        self,
        producer: MessageProducer,
        activations: DocumentStore,
        balancer: Balancer,
        controller: int,
        *,
        max_wait_s: float = 60.0,
        poll_offsets: PollSchedule = store_poll_offsets,
        tracker: ActivationTracker | None = None,
        ack_grace_s: float = DEFAULT_ACK_GRACE_S,
        health: InvokerHealthMonitor | None = None,
    ) -> None:
        self.controller = controller
        self.tracker = tracker
        self.max_wait_s = max_wait_s
        self.balancer = balancer
        self.health = health
        self.acks = AckTracker(
            activations, grace_s=ack_grace_s, on_forced=self._forced, on_count=self._counted
        )
        if health is not None:
            health.drains.flights = self.acks.in_flight
        self._producer = producer
        self._activations = activations
        self._poll_offsets = poll_offsets
        self._waiters: dict[str, asyncio.Future[CompletionMessage]] = {}
        self._consumer: MessageConsumer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ended: asyncio.Future[None] | None = None  # done once the waits were ended

    @classmethod
    async def open(
        cls,
        bus: MessageBus,
        activations: DocumentStore,
        balancer: Balancer,
        controller: int,
        *,
        max_wait_s: float = 60.0,
        poll_offsets: PollSchedule = store_poll_offsets,
        tracker: ActivationTracker | None = None,
        ack_grace_s: float = DEFAULT_ACK_GRACE_S,
        health: InvokerHealthMonitor | None = None,
    ) -> Invocations:
        """Create the topics, the producer and the completion consumer (reading from now
        on), and start following completions. ``close`` releases all of it."""
        await bus.ensure_topics(topics(controller, balancer.invokers))
        producer = bus.producer()
        completed = completed_topic(controller)
        try:
            consumer = await bus.consumer(completed, completed, "from_end")
        except BaseException:
            await producer.close()
            raise
        invocations = cls(
            producer,
            activations,
            balancer,
            controller,
            max_wait_s=max_wait_s,
            poll_offsets=poll_offsets,
            tracker=tracker,
            ack_grace_s=ack_grace_s,
            health=health,
        )
        invocations.follow(consumer)
        return invocations

    def follow(self, consumer: MessageConsumer) -> None:
        """Read completions from ``consumer`` in a task until ``close``; force the overdue
        activations meanwhile."""
        self._consumer = consumer
        self._reader = asyncio.create_task(self._read(consumer), name="completions")
        self.acks.start()

    async def close(self) -> None:
        """Stop following completions; close the consumer and the producer."""
        await self.acks.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._consumer is not None:
            await self._consumer.close()
            self._consumer = None
        await self._producer.close()

    @property
    def pending(self) -> int:
        """How many blocking callers wait for a completion."""
        return len(self._waiters)

    @property
    def ending(self) -> bool:
        """True once ``end_waits`` was called: no blocking wait lasts any more."""
        return self._ended is not None and self._ended.done()

    def waits_end(self) -> asyncio.Future[None]:
        """A future done once ``end_waits`` is called, for any wait to wait on besides what
        it waits for (never to be cancelled or resolved by its users)."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        return self._ended

    def end_waits(self) -> int:
        """End every blocking wait now, and any later one at once, as if its time were up
        (the caller gets 202 with the activation id); the number of waits ended."""
        ended = self.waits_end()
        if not ended.done():
            ended.set_result(None)
        return len(self._waiters)

    def _counted(self, invoker: int, count: int) -> None:
        """The ack tracker's count of ``invoker``'s flights changed (to ``count``)."""
        if self.health is not None:
            self.health.in_flight_changed(invoker)

    async def _read(self, consumer: MessageConsumer) -> None:
        while True:
            try:
                raw = await consumer.receive()
            except MessagingError:
                return  # closed
            try:
                self.complete(raw)
            except Exception:  # a bug must not stop the completions of everyone else
                log.exception("failed to handle a completion message")

    def complete(self, raw: bytes) -> None:
        """Resolve the waiter of the completion ``raw``; ignore unknown or malformed ones."""
        try:
            completion = CompletionMessage.decode(raw)
        except ModelError as error:
            log.warning("ignoring a malformed completion message: %s", error)
            return
        flight = self.acks.completed(completion.activation_id)
        if self.tracker is not None:
            self.tracker.activation_done(completion.activation_id)
        self.balancer.release(completion.activation_id)
        if flight is not None and self.health is not None:
            outcome = Outcome.SYSTEM_ERROR if completion.is_system_error else Outcome.SUCCESS
            self.health.record(
                flight.invoker,
                outcome,
                completion.activation_id,
                test=flight.test,
                detail=_error_of(completion.activation) if completion.is_system_error else "",
            )
        self._resolve(completion)

    def _resolve(self, completion: CompletionMessage) -> None:
        # Unknown ids: non-blocking activations, callers that gave up, another controller's.
        waiter = self._waiters.pop(completion.activation_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(completion)

    def _forced(self, flight: Flight, record: Activation | None) -> None:
        """No completion of ``flight`` in time (``record``: its stored record, if any)."""
        if not flight.test:
            if self.tracker is not None:
                self.tracker.activation_done(flight.activation_id)
            self.balancer.release(flight.activation_id)
        if self.health is not None:
            self.health.record(
                flight.invoker, Outcome.TIMEOUT, flight.activation_id, test=flight.test
            )
        if record is not None:
            self._resolve(
                CompletionMessage(
                    transid="forced",
                    activation_id=flight.activation_id,
                    invoker=flight.invoker,
                    is_system_error=True,
                    activation=record.to_api(),
                )
            )

    async def send(
        self,
        message: ActivationMessage,
        memory_mb: int = DEFAULT_MEMORY_MB,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> None:
        """Send ``message`` (an action of ``memory_mb`` and ``timeout_ms``) to its invoker;
        return once the broker acknowledged it.

        Raises MessagingError when the broker refused or could not be reached, and
        NoInvokersError (an ApiError, 503) when no invoker is usable.
        """
        activation_id = message.activation_id
        invoker = self.balancer.acquire(
            activation_id, message.user.namespace, message.action, memory_mb
        )
        tracker = self.tracker
        # Counted before the send: a fast completion cannot arrive before it was counted.
        if tracker is not None:
            tracker.activation_sent(message)
        self.acks.sent(message, invoker, timeout_ms)
        try:
            await self._producer.send(invoker_topic(invoker), message.encode())
        except BaseException:
            self.acks.completed(activation_id)
            self.balancer.release(activation_id)
            if tracker is not None:
                tracker.activation_done(activation_id)
            raise

    async def send_health_test(self, message: ActivationMessage, invoker: int) -> None:
        """Send the health test ``message`` straight to ``invoker`` (no balancing, no
        throttling); its completion or its forced ack counts for that invoker's health."""
        self.acks.sent(message, invoker, HEALTH_TEST_TIMEOUT_MS, test=True)
        try:
            await self._producer.send(invoker_topic(invoker), message.encode())
        except BaseException:
            self.acks.completed(message.activation_id)
            raise

    async def send_and_wait(
        self,
        message: ActivationMessage,
        wait_s: float,
        memory_mb: int = DEFAULT_MEMORY_MB,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> Finished | None:
        """Send ``message`` (an action of ``memory_mb``) and wait up to ``wait_s`` for the
        activation to complete.

        Returns the finished activation, or None when the wait ended first (the activation
        may still complete later). Raises MessagingError when the send failed; no waiter
        is left behind either way.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[CompletionMessage] = loop.create_future()
        activation_id = message.activation_id
        self._waiters[activation_id] = waiter
        try:
            start = loop.time()
            await self.send(message, memory_mb, timeout_ms)
            return await self._wait(message, waiter, start, start + wait_s)
        finally:
            self._waiters.pop(activation_id, None)

    async def _wait(
        self,
        message: ActivationMessage,
        waiter: asyncio.Future[CompletionMessage],
        start: float,
        deadline: float,
    ) -> Finished | None:
        loop = asyncio.get_running_loop()
        doc_id = f"{message.user.namespace}/{message.activation_id}"
        offsets = iter(self._poll_offsets())
        next_poll = next(offsets, None)
        completion: asyncio.Future[CompletionMessage] | None = waiter
        ended = self.waits_end()
        while True:
            now = loop.time()
            wake = deadline if next_poll is None else min(start + next_poll, deadline)
            if wake > now and not ended.done():
                awaited = (ended,) if completion is None else (completion, ended)
                await asyncio.wait(awaited, timeout=wake - now, return_when=asyncio.FIRST_COMPLETED)
            if completion is not None and completion.done():
                finished = await self._from_completion(completion.result(), doc_id)
                if finished is not None:
                    return finished
                # A completion without the record: the record lands in the store shortly.
                completion = None
                offsets = _after_completion_offsets(loop.time() - start)
                next_poll = next(offsets)
                continue
            if ended.done():
                return None  # the controller is stopping: the caller gets the id
            now = loop.time()
            if next_poll is not None and now >= start + next_poll:
                finished = await self._from_store(doc_id)
                if finished is not None:
                    return finished
                next_poll = next(offsets, None)
                continue
            if now >= deadline:
                return None

    async def _from_completion(self, completion: CompletionMessage, doc_id: str) -> Finished | None:
        record = completion.activation
        if record is not None:
            status = _status_of(record)
            if status is not None:
                return Finished(record, status)
            log.warning("completion of %s has a malformed record", completion.activation_id)
        return await self._from_store(doc_id)

    async def _from_store(self, doc_id: str) -> Finished | None:
        try:
            doc = await self._activations.get(doc_id)
        except DocumentStoreError as error:
            log.warning("cannot read activation %s: %s", doc_id, error)
            return None
        if doc is None:
            return None
        try:
            activation = Activation.from_doc(doc.body)
        except ModelError as error:
            log.warning("activation %s is malformed in the store: %s", doc_id, error)
            return None
        return Finished(activation.to_api(), activation.response.status)
