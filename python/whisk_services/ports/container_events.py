"""The container-events port: a container engine as the registrator reads it (its
containers' ``docker inspect`` data, and a stream of their life-cycle events)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class ContainerSourceError(Exception):
    """The container engine could not be reached or refused a request."""


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    """``action`` (start, die, stop, kill, destroy) happened to container ``container_id``."""

    action: str
    container_id: str


class EventStream(Protocol):
    """A subscription to container events."""

    async def next(self) -> ContainerEvent | None:
        """The next event; None once the stream ended."""
        ...

    async def close(self) -> None:
        """End the subscription."""
        ...


class ContainerSource(Protocol):
    """The container engine, as the registrator reads it."""

    async def watch(self) -> EventStream:
        """Subscribe to container events from now on."""
        ...

    async def running(self) -> list[Mapping[str, Any]]:
        """``docker inspect`` of every running container."""
        ...

    async def inspect(self, container_id: str) -> Mapping[str, Any] | None:
        """``docker inspect`` of one container; None when it is gone."""
        ...
