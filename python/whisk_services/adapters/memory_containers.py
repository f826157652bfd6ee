"""The container port in memory, for unit tests: containers that only record what was done.

``MemoryContainerFactory.calls`` lists every operation in order as ``(operation, id)``
with operation one of ``create``, ``pause``, ``unpause`` and ``destroy``. A test may make
the next creations fail (``fail_creates``) or take time (``create_delay_s``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping

from whisk_services.ports.containers import ContainerError, ContainerLogs


class MemoryContainer:
    """A container that does nothing but remember its state."""

    def __init__(
        self,
        factory: MemoryContainerFactory,
        container_id: str,
        image: str,
        memory_mb: int,
        labels: Mapping[str, str],
    ) -> None:
        self._factory = factory
        self._id = container_id
        self.image = image
        self.memory_mb = memory_mb
        self.labels = dict(labels)
        self.paused = False
        self.destroyed = False
        self.out_of_memory = False

    @property
    def id(self) -> str:
        """A made-up id, unique within the factory."""
        return self._id

    @property
    def address(self) -> str:
        """A made-up address nobody listens at."""
        return f"127.0.0.1:{10000 + int(self._id.rsplit('-', 1)[1])}"

    def _check(self, operation: str) -> None:
        if self.destroyed:
            raise ContainerError(f"{operation} {self._id}: no such container")

    async def pause(self) -> None:
        """Mark paused."""
        self._check("pause")
        self._factory.calls.append(("pause", self._id))
        self.paused = True

    async def unpause(self) -> None:
        """Mark running."""
        self._check("unpause")
        self._factory.calls.append(("unpause", self._id))
        self.paused = False

    async def destroy(self) -> None:
        """Mark destroyed; destroying twice records one destroy."""
        if not self.destroyed:
            self._factory.calls.append(("destroy", self._id))
            self.destroyed = True

    async def logs_since(self, since: float) -> ContainerLogs:
        """No output."""
        self._check("logs")
        return ContainerLogs("", "")

    async def oom_killed(self) -> bool:
        """What a test set in ``out_of_memory``."""
        return self.out_of_memory


class MemoryContainerFactory:
    """Creates ``MemoryContainer`` s and records every operation on them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.containers: dict[str, MemoryContainer] = {}
        self.fail_creates = 0
        self.create_delay_s = 0.0
        self._numbers = itertools.count(1)

    def count(self, operation: str) -> int:
        """How many times ``operation`` was recorded."""
        return sum(1 for done, _ in self.calls if done == operation)

    def alive(self) -> list[MemoryContainer]:
        """The containers not destroyed."""
        return [c for c in self.containers.values() if not c.destroyed]

    async def create(
        self,
        image: str,
        *,
        memory_mb: int,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        network: str | None = None,
    ) -> MemoryContainer:
        """A new container, after ``create_delay_s``; fails while ``fail_creates`` > 0."""
        if self.create_delay_s:
            await asyncio.sleep(self.create_delay_s)
        if self.fail_creates > 0:
            self.fail_creates -= 1
            raise ContainerError(f"create {image}: failing on purpose")
        container_id = f"mem-{next(self._numbers)}"
        container = MemoryContainer(self, container_id, image, memory_mb, labels or {})
        self.containers[container_id] = container
        self.calls.append(("create", container_id))
        return container
