"""The container port: action containers the invoker creates, pauses, reads and destroys.

An action container runs a runtime image whose proxy speaks OpenWhisk's action protocol on
port 8080 (reference/openwhisk-api.md §2). ``Container.address`` is the ``host:port`` at
which the invoker reaches that port. ``Container.logs_since`` returns the container's
stdout and stderr written at or after a moment, each line prefixed by its RFC 3339
nanosecond timestamp and one space, as ``docker logs --timestamps`` prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


class ContainerError(Exception):
    """The container engine failed to create, change or read a container."""


@dataclass(frozen=True, slots=True)
class ContainerLogs:
    """A container's output: timestamped lines of stdout and of stderr."""

    stdout: str
    stderr: str


class Container(Protocol):
    """A handle on one running action container."""

    @property
    def id(self) -> str:
        """The engine's id of the container."""
        ...

    @property
    def address(self) -> str:
        """``host:port`` of the container's port 8080, reachable by the invoker."""
        ...

    async def pause(self) -> None:
        """Freeze every process of the container."""
        ...

    async def unpause(self) -> None:
        """Resume a paused container."""
        ...

    async def destroy(self) -> None:
        """Remove the container (killing it if it runs); removing a removed one is a no-op."""
        ...

    async def logs_since(self, since: float) -> ContainerLogs:
        """The lines written at or after ``since`` (seconds since the epoch)."""
        ...

    async def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the container for exceeding its memory."""
        ...


class ContainerFactory(Protocol):
    """Creates action containers."""

    async def create(
        self,
        image: str,
        *,
        memory_mb: int,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        network: str | None = None,
    ) -> Container:
        """Start a container of ``image`` limited to ``memory_mb`` MB (swap included)."""
        ...
