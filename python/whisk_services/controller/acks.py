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


class AckTracker:
    """The activations in flight and the loop forcing the overdue ones."""

    def __init__(
        self,
        activations: DocumentStore,
        *,
        grace_s: float = DEFAULT_ACK_GRACE_S,
        on_forced: Forced | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.grace_s = grace_s
        self.on_forced = on_forced
        self._activations = activations
        self._clock = clock
        self._flights: dict[str, Flight] = {}
        self._unwritten: list[Flight] = []  # forced, their record not written yet
        self._task: asyncio.Task[None] | None = None
        self.forced = 0
        self.written = 0

    def __len__(self) -> int:
        return len(self._flights)

    def __contains__(self, activation_id: object) -> bool:
        return activation_id in self._flights

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
        self._flights[message.activation_id] = flight
        return flight

    def completed(self, activation_id: str) -> Flight | None:
        """The completion arrived (or the send failed): stop tracking; the flight, or None
        if unknown (another controller's, or already forced)."""
        return self._flights.pop(activation_id, None)

    def overdue(self) -> list[Flight]:
        """Take the flights past their deadline."""
        now = self._clock()
        late = [f for f in self._flights.values() if f.deadline <= now]
        for flight in late:
            del self._flights[flight.activation_id]
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
        for flight in self.overdue():
            self.forced += 1
            record = await self.record_of(flight)
            if record is None:
                self._unwritten.append(flight)
            if self.on_forced is not None:
                try:
                    self.on_forced(flight, record)
                except Exception:
                    log.exception("handling the forced ack of %s failed", flight.activation_id)
        retry, self._unwritten = self._unwritten, []
        for flight in retry:
            if await self.record_of(flight) is None:
                self._unwritten.append(flight)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            try:
                await self.sweep()
            except Exception:
                log.exception("forcing overdue activations failed")

    def start(self) -> None:
        """Force overdue activations in the background until ``close``."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ack-timeouts")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
