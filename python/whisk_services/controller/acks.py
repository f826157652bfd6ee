"""Every activation a controller sent, until its completion arrives or its time is up.

An activation is in flight from its send until the invoker's completion message. When no
completion arrived within the action's time limit plus the ack grace
(``WHISK_CONTROLLER_ACK_TIMEOUT_S``), the activation is forced complete: unless the invoker
stored its record after all (its completion may be lost while its record is not), the
controller stores a "whisk internal error" record for it, so that no activation id handed
out is left without a record. The record is created, never overwritten: when the invoker's
record lands first, the controller's write conflicts and the invoker's stays. The
controller's ``on_forced`` then frees the invoker's memory in the balancer, answers a
waiting caller and counts a timeout against the invoker's health.

OpenWhisk forces the same completion (``max(timeout, 60 s) * 2 + 1 min``) but writes no
record (reference/user-needs-and-reliability.md §2.1); this is the stronger promise.

The tracker counts the flights of each invoker (``in_flight``) and tells ``on_count`` each
time a count changes: the health monitor publishes it, so that an operator draining an
invoker sees when it owes this controller nothing more (``drain_view``).

Closing (the controller stops) does not drop a record the controller owes: the loop is
asked to stop, not cancelled, so a sweep under way finishes its writes; the overdue flights
are forced one last time and the unwritten records retried, within ``close_s``. A record
still owed after that (the store is down) is named in a log line, and so is the number of
flights still awaited: their invokers write their records, but no controller will force
them if an invoker never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from whisk_services.model.activation import Activation, ActivationResponse
from whisk_services.model.errors import ModelError
from whisk_services.model.messages import ActivationMessage
from whisk_services.model.names import FullyQualifiedName
from whisk_services.model.parameters import Parameters
from whisk_services.ports.documents import DocumentConflict, DocumentStore, DocumentStoreError

log = logging.getLogger("whisk.controller.acks")

DEFAULT_TIMEOUT_MS = 60_000
DEFAULT_ACK_GRACE_S = 60.0
SWEEP_S = 0.5
CLOSE_S = 5.0  # how long closing may take to write the records still owed


def no_answer(invoker: int) -> str:
    """The error of a record the controller wrote for an activation its invoker never
    completed."""
    return (
        f"The invoker did not answer in time: no completion from invoker{invoker} within "
        "the action's time limit plus the acknowledgement grace."
    )


@dataclass(frozen=True, slots=True)
class Flight:
    """An activation in flight: where it went, for whom, and when it is overdue."""

    activation_id: str
    invoker: int
    namespace: str
    action: FullyQualifiedName
    subject: str
    accepted_ms: int
    timeout_ms: int
    deadline: float  # on the tracker's clock
    test: bool = False  # a health test action (not balanced, not throttled)

    def tombstone(self, now_ms: int) -> Activation:
        """The whisk internal error record of this activation."""
        start = self.accepted_ms or now_ms
        return Activation(
            namespace=self.namespace,
            name=self.action.name,
            subject=self.subject,
            activation_id=self.activation_id,
            start=start,
            end=max(now_ms, start),
            response=ActivationResponse.whisk_error(no_answer(self.invoker)),
            annotations=Parameters.from_dict(
                {"path": self.action.as_path(), "timeout": False, "invoker": self.invoker}
            ),
        )


Forced = Callable[[Flight, Activation | None], None]
"""Called once per forced activation with its record (the invoker's or the controller's;
None when the store could not be read or written: the write is retried)."""

CountChanged = Callable[[int, int], None]
"""Called with an invoker and its new number of flights whenever that number changed."""


class AckTracker:
    """The activations in flight and the loop forcing the overdue ones."""

    def __init__(
        self,
        activations: DocumentStore,
        *,
        grace_s: float = DEFAULT_ACK_GRACE_S,
        on_forced: Forced | None = None,
        on_count: CountChanged | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.grace_s = grace_s
        self.on_forced = on_forced
        self.on_count = on_count
        self._activations = activations
        self._clock = clock
        self._flights: dict[str, Flight] = {}
        self._per_invoker: dict[int, int] = {}
        self._owed: dict[str, Flight] = {}  # forced, their record not written yet
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.forced = 0
        self.written = 0

    def __len__(self) -> int:
        return len(self._flights)

    def __contains__(self, activation_id: object) -> bool:
        return activation_id in self._flights

    def in_flight(self, invoker: int) -> int:
        """How many activations sent to ``invoker`` still await their completion."""
        return self._per_invoker.get(invoker, 0)

    @property
    def owed(self) -> list[str]:
        """The forced activations whose record is not written yet."""
        return list(self._owed)

    def _count(self, invoker: int, delta: int) -> None:
        count = self.in_flight(invoker) + delta
        if count > 0:
            self._per_invoker[invoker] = count
        else:
            self._per_invoker.pop(invoker, None)
        if self.on_count is not None:
            try:
                self.on_count(invoker, max(count, 0))
            except Exception:  # the count is kept here whatever a listener does
                log.exception("reporting the flights of invoker%d failed", invoker)

    def _add(self, flight: Flight) -> None:
        self._remove(flight.activation_id)  # the same id twice: counted once
        self._flights[flight.activation_id] = flight
        self._count(flight.invoker, +1)

    def _remove(self, activation_id: str) -> Flight | None:
        flight = self._flights.pop(activation_id, None)
        if flight is not None:
            self._count(flight.invoker, -1)
        return flight

    def sent(
        self,
        message: ActivationMessage,
        invoker: int,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        *,
        test: bool = False,
    ) -> Flight:
        """``message`` goes to ``invoker``: track it until ``completed`` or overdue."""
        flight = Flight(
            activation_id=message.activation_id,
            invoker=invoker,
            namespace=message.user.namespace,
            action=message.action,
            subject=message.user.subject,
            accepted_ms=message.accepted_ms,
            timeout_ms=timeout_ms,
            deadline=self._clock() + timeout_ms / 1000 + self.grace_s,
            test=test,
        )
        self._add(flight)
        return flight

    def completed(self, activation_id: str) -> Flight | None:
        """The completion arrived (or the send failed): stop tracking; the flight, or None
        if unknown (another controller's, or already forced)."""
        return self._remove(activation_id)

    def overdue(self) -> list[Flight]:
        """Take the flights past their deadline: from now on their records are owed."""
        now = self._clock()
        late = [f for f in self._flights.values() if f.deadline <= now]
        for flight in late:
            self._remove(flight.activation_id)
            self._owed[flight.activation_id] = flight
        return late

    async def record_of(self, flight: Flight) -> Activation | None:
        """The record of a forced activation: the stored one, else the one written now.
        None when the store failed (retry)."""
        doc_id = f"{flight.namespace}/{flight.activation_id}"
        try:
            doc = await self._activations.get(doc_id)
            if doc is None:
                record = flight.tombstone(time.time_ns() // 1_000_000)
                try:
                    await self._activations.put(doc_id, record.to_doc())
                except DocumentConflict:  # the invoker's record landed meanwhile
                    doc = await self._activations.get(doc_id)
                    if doc is None:
                        return None
                else:
                    self.written += 1
                    log.warning(
                        "activation %s: no completion from invoker%d in time, "
                        "stored a whisk internal error",
                        flight.activation_id,
                        flight.invoker,
                    )
                    return record
            return Activation.from_doc(doc.body)
        except (DocumentStoreError, OSError, TimeoutError) as error:
            log.warning("cannot store the record of %s: %s", flight.activation_id, error)
            return None
        except ModelError as error:  # someone's malformed record: it exists, leave it
            log.warning("activation %s is malformed in the store: %s", doc_id, error)
            return flight.tombstone(time.time_ns() // 1_000_000)

    async def sweep(self) -> None:
        """Force the overdue flights; retry the records not written yet."""
        retry = list(self._owed.values())
        for flight in self.overdue():
            self.forced += 1
            record = await self.record_of(flight)
            if record is not None:
                self._owed.pop(flight.activation_id, None)
            if self.on_forced is not None:
                try:
                    self.on_forced(flight, record)
                except Exception:
                    log.exception("handling the forced ack of %s failed", flight.activation_id)
        for flight in retry:
            if await self.record_of(flight) is not None:
                self._owed.pop(flight.activation_id, None)

    async def _run(self) -> None:
        closing = False
        while not closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), SWEEP_S)
            closing = self._closing.is_set()  # then one last sweep: what is owed is written
            try:
                await self.sweep()
            except Exception:
                log.exception("forcing overdue activations failed")

    def start(self) -> None:
        """Force overdue activations in the background until ``close``."""
        if self._task is None:
            self._closing.clear()
            self._task = asyncio.create_task(self._run(), name="ack-timeouts")

    async def close(self, close_s: float = CLOSE_S) -> None:
        """Stop forcing: the sweep under way (and a last one) may write the records owed
        for up to ``close_s``; what is still owed then, and what is still awaited, is
        logged."""
        task, self._task = self._task, None
        if task is not None:
            self._closing.set()
            done, _ = await asyncio.wait((task,), timeout=close_s)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._owed:
            log.error(
                "stopping with %d forced activation record(s) not written (the store did not "
                "answer in %.0f s): %s",
                len(self._owed),
                close_s,
                ", ".join(sorted(self._owed)),
            )
        if self._flights:
            log.warning(
                "stopping with %d activation(s) still awaiting their completion: their "
                "invokers write their records, but none is forced if an invoker never does",
                len(self._flights),
            )
