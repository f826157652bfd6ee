"""The messaging port: topics the daemons send activation, completion and health messages on.

A ``MessageBus`` makes producers and consumers and creates topics. ``MessageProducer.send``
returns once the broker acknowledged the message (the controller answers a non-blocking
invoke only then). A ``MessageConsumer`` reads one topic, in order, from where its group
left off (``from_start``) or from the messages sent after it was opened (``from_end``);
``receive`` waits for the next message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


class MessagingError(Exception):
    """The broker could not be reached, refused a message, or the client was closed."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic to create if missing: its name and how long it keeps messages."""

    name: str
    retention_ms: int


class MessageProducer(Protocol):
    """Sends messages; one producer serves any number of topics and concurrent senders."""

    async def send(self, topic: str, value: bytes) -> None:
        """Send ``value`` to ``topic``; return once the broker acknowledged it."""
        ...

    async def close(self) -> None:
        """Deliver what is pending (briefly), then release the client."""
        ...


class MessageConsumer(Protocol):
    """Reads one topic in order."""

    async def receive(self) -> bytes:
        """The next message's value (waits for one); MessagingError once closed."""
        ...

    async def close(self) -> None:
        """Stop reading, commit what was received, release the client."""
        ...


class MessageBus(Protocol):
    """Makes the producers and consumers of one cluster and creates its topics."""

    async def ensure_topics(self, topics: Sequence[TopicSpec]) -> None:
        """Create the topics that do not exist yet (one partition each)."""
        ...

    def producer(self) -> MessageProducer:
        """A new producer."""
        ...

    async def consumer(
        self, topic: str, group: str, start: Literal["from_start", "from_end"]
    ) -> MessageConsumer:
        """A consumer of ``topic`` in consumer group ``group``, reading once this returns.

        ``from_start``: continue from the group's committed offset (or from the oldest
        message the topic keeps, for a new group); ``from_end``: only messages sent after
        this returned.
        """
        ...
