"""Activation records to the activations database, in bulk, off the activation's path.

``add`` queues a record and returns at once. One writer task sends everything queued in a
single ``_bulk_docs`` request, ``batch_window_s`` (20 ms) after the first record of a batch
arrived; while a request is under way new records gather for the next one. The window
costs each record 20 ms of its 1 s promise and saves the database a request per
activation: each single-record write cost PouchDB Server 4 ms of CPU, taken from the next
activation on these 2-core machines (bench/invoke_latency.py). A write
that fails is retried (with a growing pause, up to ``MAX_RETRY_PAUSE_S``) until it lands:
no record is dropped while the invoker runs. ``close`` writes what is still queued.
"""

from __future__ import annotations

import asyncio
import logging
import time

from whisk_services.model.activation import Activation
from whisk_services.ports.documents import DocumentStore, DocumentStoreError

log = logging.getLogger("whisk.invoker.records")

MAX_BATCH = 500
MAX_RETRY_PAUSE_S = 5.0


class ActivationRecords:
    """The batch writer of one invoker."""

    def __init__(self, activations: DocumentStore, *, batch_window_s: float = 0.02) -> None:
        self._store = activations
        self._window_s = batch_window_s
        self._first_at = 0.0
        self._pending: list[Activation] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.batches = 0

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._run(), name="activation-records")

    def add(self, activation: Activation) -> None:
        """Queue ``activation`` for the next batch."""
        if not self._pending:
            self._first_at = time.monotonic()
        self._pending.append(activation)
        self._wake.set()

    @property
    def pending(self) -> int:
        """Records queued and not yet written."""
        return len(self._pending)

    async def _run(self) -> None:
        pause = 0.05
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            gather_s = self._first_at + self._window_s - time.monotonic()
            if gather_s > 0 and not self._closing:
                await asyncio.sleep(gather_s)  # let the batch gather
            batch = self._pending[:MAX_BATCH]
            try:
                results = await self._store.put_many([(a.doc_id(), a.to_doc()) for a in batch])
            except (TimeoutError, DocumentStoreError, OSError) as error:
                log.warning("writing %d activation records failed, retrying: %s", len(batch), error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RETRY_PAUSE_S)
                continue
            pause = 0.05
            del self._pending[: len(batch)]
            self.batches += 1
            self.written += len(batch)
            for activation, rev in zip(batch, results, strict=True):
                if rev is None:  # its id exists: written by an earlier, half-answered try
                    log.info("activation %s was already stored", activation.activation_id)

    async def close(self) -> None:
        """Write what is queued, then stop the writer."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
