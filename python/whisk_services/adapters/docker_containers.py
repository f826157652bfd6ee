"""Action containers on a Docker engine, through the (synchronous) ``docker`` SDK.

Every SDK call runs in a worker thread. Each container is labelled
``org.whisk.project=whisk`` and ``org.whisk.role=action`` (``make docker-clean`` removes
strays by the first), has memory = memory-swap = the action's memory limit, runs
unprivileged with ``no-new-privileges`` and at most 1024 processes.

On a network (``create(..., network=...)``, normally an ``ActionNetwork``) a container is
attached to that network only, publishes no port, and is reached at its own address on it,
``<ip>:8080``. Without one it is on Docker's default bridge and publishes its port 8080 on
127.0.0.1 only, on a port Docker picks.

Logs come from an attach stream read by one thread per container into memory, each line
stamped when it arrives: ``docker logs --since`` rescans the container's whole log file
on every call, which made a warm run cost half a second once an action had written 10 MB.
A call to ``logs_since`` forgets the lines older than its ``since``.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import docker
import docker.errors

from whisk_services.ports.containers import ContainerError, ContainerLogs

PROJECT_LABELS = {"org.whisk.project": "whisk", "org.whisk.role": "action"}
ACTION_PORT = "8080/tcp"
OOM_SETTLE_S = 2.0
PIDS_LIMIT = 1024


def _address(attrs: Mapping[str, Any], network: str | None) -> str:
    """Where the invoker reaches a (reloaded) container's port 8080."""
    settings = attrs["NetworkSettings"]
    if network is None:
        binding = settings["Ports"][ACTION_PORT][0]
        return f"127.0.0.1:{int(binding['HostPort'])}"
    networks = settings["Networks"]
    # Docker keys the networks by name; a network given by id finds the only one there is.
    entry = networks.get(network) or (next(iter(networks.values())) if len(networks) == 1 else {})
    ip = entry.get("IPAddress")
    if not ip:
        raise ContainerError(f"no address on network {network}")
    return f"{ip}:{ACTION_PORT.partition('/')[0]}"


def _stamp(time_ns: int) -> str:
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    whole = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{nanos:09d}Z"


class _LogPump:
    """Reads a container's demultiplexed attach stream into timestamped lines."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._lines: list[tuple[int, int, str]] = []  # (arrival ns, 0 stdout | 1 stderr, text)
        self._partial = [b"", b""]
        self._thread = threading.Thread(target=self._pump, name="action-logs", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for chunks in self._stream:
                now = time.time_ns()
                with self._lock:
                    for index, chunk in enumerate(chunks):
                        if chunk:
                            self._feed(index, chunk, now)
        except Exception:  # noqa: S110 -- the container went away: no more output
            pass

    def _feed(self, index: int, chunk: bytes, now: int) -> None:
        *complete, self._partial[index] = (self._partial[index] + chunk).split(b"\n")
        for raw in complete:
            self._lines.append((now, index, raw.decode("utf-8", errors="replace")))

    def since(self, since_ns: int) -> ContainerLogs:
        with self._lock:
            self._lines = [line for line in self._lines if line[0] >= since_ns]
            lines = list(self._lines)
        streams: tuple[list[str], list[str]] = ([], [])
        for arrival, index, text in lines:
            streams[index].append(f"{_stamp(arrival)} {text}\n")
        return ContainerLogs("".join(streams[0]), "".join(streams[1]))


class DockerContainer:
    """One action container of a ``DockerContainerFactory``."""

    def __init__(self, container: Any, address: str, logs: _LogPump) -> None:
        self._container = container
        self._address = address
        self._logs = logs

    @property
    def id(self) -> str:
        """The Docker container id."""
        container_id: str = self._container.id
        return container_id

    @property
    def address(self) -> str:
        """``<ip on its network>:8080``, or ``127.0.0.1:<published port>`` without one."""
        return self._address

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._container, method), **kwargs)
        except docker.errors.DockerException as error:
            raise ContainerError(f"docker {method} {self.id[:12]}: {error}") from error

    async def pause(self) -> None:
        """``docker pause``."""
        await self._call("pause")

    async def unpause(self) -> None:
        """``docker unpause``."""
        await self._call("unpause")

    async def destroy(self) -> None:
        """``docker rm -f``; a container already gone is fine."""
        try:
            await asyncio.to_thread(self._container.remove, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.DockerException as error:
            raise ContainerError(f"docker rm {self.id[:12]}: {error}") from error

    async def logs_since(self, since: float) -> ContainerLogs:
        """The lines that arrived at or after ``since``; older ones are forgotten."""
        return self._logs.since(int(since * 1_000_000_000))

    async def oom_killed(self, settle_s: float = OOM_SETTLE_S) -> bool:
        """Docker's ``State.OOMKilled``, read once the container stopped (Docker sets it
        from the exit event, a moment after the action's connection dropped), waiting at
        most ``settle_s``; False for a container still running then, or already gone."""
        give_up = time.monotonic() + settle_s
        while True:
            try:
                await asyncio.to_thread(self._container.reload)
            except docker.errors.NotFound:
                return False
            except docker.errors.DockerException as error:
                raise ContainerError(f"docker inspect {self.id[:12]}: {error}") from error
            state = self._container.attrs.get("State", {})
            if state.get("OOMKilled"):
                return True
            if not state.get("Running", False) or time.monotonic() >= give_up:
                return False
            await asyncio.sleep(0.05)


class DockerContainerFactory:
    """Creates action containers with a Docker client (``docker.from_env()`` by default).

    ``restore_network`` (optional) recreates a network that vanished: a container created
    on a network Docker no longer knows (``docker network prune`` removes an idle one) is
    retried once after it ran.
    """

    def __init__(
        self,
        client: Any | None = None,
        *,
        restore_network: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client if client is not None else docker.from_env()
        self._restore_network = restore_network

    def close(self) -> None:
        """Close the Docker client."""
        self._client.close()

    def _run(
        self,
        *,
        image: str,
        memory_mb: int,
        name: str | None,
        labels: Mapping[str, str],
        env: Mapping[str, str],
        network: str | None,
    ) -> DockerContainer:
        placement: dict[str, Any] = (
            {"network": network}
            if network is not None
            else {"ports": {ACTION_PORT: ("127.0.0.1", None)}}
        )
        container = self._client.containers.run(
            image,
            detach=True,
            name=name,
            labels={**labels, **PROJECT_LABELS},
            environment=dict(env),
            mem_limit=f"{memory_mb}m",
            memswap_limit=f"{memory_mb}m",
            privileged=False,
            security_opt=["no-new-privileges"],
            pids_limit=PIDS_LIMIT,
            **placement,
        )
        try:
            stream = container.attach(stdout=True, stderr=True, stream=True, logs=True, demux=True)
            container.reload()
            address = _address(container.attrs, network)
            return DockerContainer(container, address, _LogPump(stream))
        except BaseException:
            container.remove(force=True)
            raise

    def _remove_labelled(self, labels: Mapping[str, str]) -> int:
        wanted = {**labels, **PROJECT_LABELS}
        filters = {"label": [f"{key}={value}" for key, value in wanted.items()]}
        removed = 0
        for container in self._client.containers.list(all=True, filters=filters):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                continue
            removed += 1
        return removed

    async def remove_labelled(self, labels: Mapping[str, str]) -> int:
        """``docker rm -f`` every action container carrying all of ``labels``; how many."""
        try:
            return await asyncio.to_thread(self._remove_labelled, labels)
        except docker.errors.DockerException as error:
            raise ContainerError(f"docker rm by labels {dict(labels)}: {error}") from error

    async def create(
        self,
        image: str,
        *,
        memory_mb: int,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        network: str | None = None,
    ) -> DockerContainer:
        """``docker run -d`` the image; the proxy may not listen yet when this returns."""
        run = functools.partial(
            self._run,
            image=image,
            memory_mb=memory_mb,
            name=name,
            labels=labels or {},
            env=env or {},
            network=network,
        )
        try:
            try:
                return await asyncio.to_thread(run)
            except docker.errors.NotFound as error:
                if not (network and self._restore_network and _names_network(error, network)):
                    raise
                await self._restore_network(network)
                return await asyncio.to_thread(run)
        except (docker.errors.DockerException, KeyError, IndexError, TypeError) as error:
            raise ContainerError(f"docker run {image}: {error}") from error


def _names_network(error: docker.errors.NotFound, network: str) -> bool:
    """Whether Docker's 404 is about ``network`` (not the image)."""
    text = str(error)
    return "network" in text and network in text
