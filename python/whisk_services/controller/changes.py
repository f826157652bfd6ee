"""Follow a document store's changes feed and tell subscribers which ids changed.

Caches subscribe to learn about writes made by other controller processes (or by wskadmin):
a long poll per store, resumed from the last point it saw. When the feed fails, every
subscriber is told to forget everything, since writes may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from whisk_services.ports.documents import Changes, DocumentStore, DocumentStoreError

log = logging.getLogger("whisk.controller.changes")

Subscriber = Callable[[Changes | None], None]
"""Called with each batch of changes, or None when everything must be forgotten."""


class ChangeFollower:
    """One long-poll loop over ``store``'s changes feed."""

    def __init__(self, store: DocumentStore, *, poll_s: float = 30.0, retry_s: float = 1.0) -> None:
        self.store = store
        self.poll_s = poll_s
        self.retry_s = retry_s
        self._subscribers: list[Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._since: Any = None

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def _tell(self, changes: Changes | None) -> None:
        for subscriber in self._subscribers:
            subscriber(changes)

    async def start(self) -> None:
        """Take the feed's current point, then follow it in the background."""
        self._since = (await self.store.changes(None)).last_seq
        self._task = asyncio.create_task(self._follow(), name="changes-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        while True:
            try:
                changes = await self.store.changes(self._since, timeout_s=self.poll_s)
            except DocumentStoreError as error:
                log.warning("changes feed failed (%s); caches cleared, retrying", error)
                self._tell(None)
                await asyncio.sleep(self.retry_s)
                continue
            self._since = changes.last_seq
            if changes.ids:
                self._tell(changes)
