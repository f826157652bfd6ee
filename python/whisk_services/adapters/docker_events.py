"""The Docker Engine side of the registrator, through the (synchronous) ``docker`` SDK.

Every SDK call runs in a worker thread. The event stream (``GET /events`` filtered to
container start, die, stop, kill and destroy) is read by one thread per subscription, which
hands each event to the asyncio loop; closing the subscription closes the HTTP stream, which
ends the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

import docker
import docker.errors

from whisk_services.ports.container_events import ContainerEvent, ContainerSourceError

log = logging.getLogger("whisk.registrator.docker")

EVENTS = ("start", "die", "stop", "kill", "destroy")


class DockerEventStream:
    """One subscription to the engine's container events."""

    def __init__(self, stream: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._stream = stream
        self._loop = loop
        self._queue: asyncio.Queue[ContainerEvent | None] = asyncio.Queue()
        self._thread = threading.Thread(target=self._pump, name="docker-events", daemon=True)
        self._thread.start()

    def _hand(self, item: ContainerEvent | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _pump(self) -> None:
        try:
            for raw in self._stream:
                event = _event(raw)
                if event is not None:
                    self._hand(event)
        except Exception as error:  # any end of the stream is reported as its end
            log.info("docker event stream ended: %s", error)
        finally:
            self._hand(None)

    async def next(self) -> ContainerEvent | None:
        """The next event; None once the stream ended."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # stay ended for later callers
        return item

    async def close(self) -> None:
        """Close the HTTP stream (the reading thread then ends)."""
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._stream.close)


def _event(raw: Mapping[str, Any]) -> ContainerEvent | None:
    if raw.get("Type") != "container":
        return None
    action = str(raw.get("Action") or raw.get("status") or "")
    actor = raw.get("Actor") or {}
    container_id = str(actor.get("ID") or raw.get("id") or "")
    if action not in EVENTS or not container_id:
        return None
    return ContainerEvent(action, container_id)


class DockerContainerSource:
    """Running containers, inspection and events of a Docker engine (``docker.from_env()``
    by default)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client if client is not None else docker.from_env()

    async def watch(self) -> DockerEventStream:
        """Subscribe to container events from now on."""
        try:
            stream = await asyncio.to_thread(
                self._client.events,
                decode=True,
                filters={"type": "container", "event": list(EVENTS)},
            )
        except docker.errors.DockerException as error:
            raise ContainerSourceError(f"docker events: {error}") from error
        return DockerEventStream(stream, asyncio.get_running_loop())

    async def running(self) -> list[Mapping[str, Any]]:
        """``docker inspect`` of every running container."""

        def listing() -> list[Mapping[str, Any]]:
            found: list[Mapping[str, Any]] = []
            for container in self._client.containers.list(sparse=True):
                attrs = self._inspect(container.id)
                if attrs is not None:
                    found.append(attrs)
            return found

        try:
            return await asyncio.to_thread(listing)
        except docker.errors.DockerException as error:
            raise ContainerSourceError(f"docker ps: {error}") from error

    def _inspect(self, container_id: str) -> Mapping[str, Any] | None:
        try:
            attrs: Mapping[str, Any] = self._client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        return attrs

    async def inspect(self, container_id: str) -> Mapping[str, Any] | None:
        """``docker inspect``; None for a container that is gone."""
        try:
            return await asyncio.to_thread(self._inspect, container_id)
        except docker.errors.DockerException as error:
            raise ContainerSourceError(f"docker inspect {container_id[:12]}: {error}") from error

    async def close(self) -> None:
        """Close the Docker client."""
        await asyncio.to_thread(self._client.close)
