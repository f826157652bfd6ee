"""The messaging port in memory, for unit tests: topics are lists, consumers are cursors.

Each topic keeps every value sent to it; each group remembers how far it read. A value sent
to a topic that was never ensured raises MessagingError, as Kafka does with auto-creation
off. ``sent`` lists every ``(topic, value)`` in order, for assertions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from whisk_services.ports.messaging import MessagingError, TopicSpec


class MemoryBus:
    """Topics and group offsets of one in-memory 'cluster'."""

    def __init__(self) -> None:
        self.topics: dict[str, list[bytes]] = {}
        self.offsets: dict[tuple[str, str], int] = {}
        self.sent: list[tuple[str, bytes]] = []
        self.fail_sends = False
        self._changed = asyncio.Condition()

    async def ensure_topics(self, topics: Sequence[TopicSpec]) -> None:
        """Create missing topics."""
        for topic in topics:
            self.topics.setdefault(topic.name, [])

    async def append(self, topic: str, value: bytes) -> None:
        if self.fail_sends:
            raise MessagingError("the broker is unreachable (fail_sends)")
        if topic not in self.topics:
            raise MessagingError(f"unknown topic {topic}")
        self.topics[topic].append(value)
        self.sent.append((topic, value))
        async with self._changed:
            self._changed.notify_all()

    async def wait_beyond(self, topic: str, offset: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.topics[topic]) > offset)

    def producer(self) -> MemoryProducer:
        """A producer appending to this bus's topics."""
        return MemoryProducer(self)

    async def consumer(
        self, topic: str, group: str, start: Literal["from_start", "from_end"]
    ) -> MemoryConsumer:
        """A cursor on ``topic``: at the group's offset or at the end."""
        if topic not in self.topics:
            raise MessagingError(f"unknown topic {topic}")
        offset = (
            self.offsets.get((topic, group), 0)
            if start == "from_start"
            else len(self.topics[topic])
        )
        return MemoryConsumer(self, topic, group, offset)


class MemoryProducer:
    """Appends to a MemoryBus."""

    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus
        self.closed = False

    async def send(self, topic: str, value: bytes) -> None:
        """Append ``value`` to ``topic``."""
        if self.closed:
            raise MessagingError("the producer is closed")
        await self._bus.append(topic, value)

    async def close(self) -> None:
        """Refuse later sends."""
        self.closed = True


class MemoryConsumer:
    """Reads a MemoryBus topic from an offset; commits it for its group on each receive."""

    def __init__(self, bus: MemoryBus, topic: str, group: str, offset: int) -> None:
        self._bus = bus
        self._topic = topic
        self._group = group
        self._offset = offset
        self._closed = asyncio.Event()

    async def receive(self) -> bytes:
        """The next value, waiting for one; MessagingError once closed."""
        while True:
            if self._closed.is_set():
                raise MessagingError(f"the consumer of {self._topic} is closed")
            values = self._bus.topics[self._topic]
            if self._offset < len(values):
                value = values[self._offset]
                self._offset += 1
                self._bus.offsets[(self._topic, self._group)] = self._offset
                return value
            waiter = asyncio.ensure_future(self._bus.wait_beyond(self._topic, self._offset))
            closer = asyncio.ensure_future(self._closed.wait())
            try:
                await asyncio.wait({waiter, closer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                closer.cancel()

    async def close(self) -> None:
        """Wake and fail pending and later receives."""
        self._closed.set()
