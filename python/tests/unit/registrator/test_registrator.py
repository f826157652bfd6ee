"""The registrator's loop with a fake container engine and an in-memory registry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import pytest

from tests.unit.registrator.support import inspect
from whisk_services.adapters.memory_discovery import MemoryRegistry
from whisk_services.ports.container_events import ContainerEvent, ContainerSourceError
from whisk_services.ports.discovery import Registration
from whisk_services.registrator.registrator import Registrator
from whisk_services.registrator.services import OWNER_META

T = TypeVar("T")
HOST = "node1"
WEB = {"SERVICE_NAME": "web", "SERVICE_TAGS": "a,b"}


def run(body: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(body(), timeout=10))


class FakeStream:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[ContainerEvent | None] = asyncio.Queue()
        self.closed = False

    async def next(self) -> ContainerEvent | None:
        return await self.queue.get()

    async def close(self) -> None:
        self.closed = True


class FakeEngine:
    """Containers by id; ``emit`` sends an event to every subscriber."""

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, Any]] = {}
        self.streams: list[FakeStream] = []
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ContainerSourceError("engine down")

    async def watch(self) -> FakeStream:
        self._check()
        stream = FakeStream()
        self.streams.append(stream)
        return stream

    async def running(self) -> list[Mapping[str, Any]]:
        self._check()
        return [c for c in self.containers.values() if c["State"]["Running"]]

    async def inspect(self, container_id: str) -> Mapping[str, Any] | None:
        self._check()
        return self.containers.get(container_id)

    def add(self, attrs: dict[str, Any]) -> str:
        self.containers[attrs["Id"]] = attrs
        return str(attrs["Id"])

    def emit(self, action: str, container_id: str) -> None:
        for stream in self.streams:
            stream.queue.put_nowait(ContainerEvent(action, container_id))


def registrator(engine: FakeEngine, registry: MemoryRegistry, **kwargs: Any) -> Registrator:
    return Registrator(engine, registry, hostname=HOST, host_ip="127.0.0.1", **kwargs)


async def until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true in time")


def test_an_event_registers_then_deregisters() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        subject = registrator(engine, registry)
        cid = engine.add(inspect("web.0", env=WEB, ports={"8000/tcp": 32768}))
        await subject.handle(ContainerEvent("start", cid))
        service = registry.services["node1:web.0:8000"]
        assert (service.name, service.port, service.tags) == ("web", 32768, ("a", "b"))
        engine.containers[cid]["State"]["Running"] = False
        await subject.handle(ContainerEvent("die", cid))
        assert registry.services == {}
        await subject.handle(ContainerEvent("destroy", cid))  # already gone: nothing to do
        assert registry.calls == [
            ("register", "node1:web.0:8000"),
            ("deregister", "node1:web.0:8000"),
        ]

    run(body)


def test_a_destroyed_container_loses_its_services() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        subject = registrator(engine, registry)
        cid = engine.add(inspect("web.0", env={**WEB, "SERVICE_ID": "custom"}, ports={"80/tcp": 1}))
        await subject.handle(ContainerEvent("start", cid))
        assert set(registry.services) == {"custom"}
        del engine.containers[cid]
        await subject.handle(ContainerEvent("destroy", cid))
        assert registry.services == {}

    run(body)


def test_a_kill_that_does_not_stop_changes_nothing() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        subject = registrator(engine, registry)
        cid = engine.add(inspect("web.0", env=WEB, ports={"80/tcp": 1}))
        await subject.handle(ContainerEvent("start", cid))
        await subject.handle(ContainerEvent("kill", cid))  # e.g. SIGHUP: still running
        await subject.handle(ContainerEvent("start", cid))
        assert registry.calls == [("register", "node1:web.0:80")]  # registered once

    run(body)


def test_containers_that_do_not_opt_in_are_never_registered() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        subject = registrator(engine, registry)
        plain = engine.add(inspect("plain", ports={"80/tcp": 1}))
        action = engine.add(
            inspect("wsk0_1", env=WEB, labels={"org.whisk.role": "action"}, ports={"8080/tcp": 2})
        )
        ignored = engine.add(
            inspect("invoker0", env={**WEB, "SERVICE_IGNORE": "1"}, ports={"1/tcp": 3})
        )
        for cid in (plain, action, ignored):
            await subject.handle(ContainerEvent("start", cid))
        assert await subject.resync()
        assert registry.calls == []

    run(body)


def test_resync_registers_running_and_removes_our_stale_services_only() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        engine.add(inspect("web.0", env=WEB, ports={"80/tcp": 1}))
        engine.add(inspect("old.0", env=WEB, ports={"80/tcp": 2}, running=False))
        stale = Registration(id="node1:gone.0:80", name="web", address="127.0.0.1", port=9)
        marked = Registration(
            id="x", name="web", address="127.0.0.1", port=9, meta={OWNER_META: HOST}
        )
        others = [
            Registration(id="node2:gone.0:80", name="web", address="10.0.0.2", port=9),
            Registration(id="node1:invoker0", name="invoker", address="127.0.0.1", port=9),
            Registration(id="consul", name="consul", address="127.0.0.1", port=8300),
        ]
        for registration in (stale, marked, *others):
            await registry.register(registration)
        assert await registrator(engine, registry).resync()
        assert set(registry.services) == {"node1:web.0:80"} | {r.id for r in others}

    run(body)


def test_resync_does_not_re_register_what_the_agent_already_holds() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        engine.add(inspect("web.0", env=WEB, ports={"80/tcp": 1}))
        subject = registrator(engine, registry)
        assert await subject.resync()
        assert await subject.resync()
        assert registry.calls == [("register", "node1:web.0:80")]

    run(body)


def test_a_changed_declaration_is_re_registered_and_vanished_ports_removed() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        subject = registrator(engine, registry)
        cid = engine.add(
            inspect("web.0", env=WEB, ports={"80/tcp": 1, "81/tcp": 2}, container_id="c" * 64)
        )
        await subject.handle(ContainerEvent("start", cid))
        assert set(registry.services) == {"node1:web.0:80", "node1:web.0:81"}
        engine.add(inspect("web.0", env=WEB, ports={"80/tcp": 5}, container_id=cid))
        await subject.handle(ContainerEvent("start", cid))
        assert set(registry.services) == {"node1:web.0:80"}
        assert registry.services["node1:web.0:80"].port == 5

    run(body)


def test_run_follows_events_and_resyncs_after_consul_comes_back() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        registry.down = True
        subject = registrator(engine, registry, resync_s=30.0, retry_s=0.05)
        cid = engine.add(inspect("web.0", env=WEB, ports={"80/tcp": 1}))
        stop = asyncio.Event()
        task = asyncio.create_task(subject.run(stop))
        await until(lambda: len(engine.streams) == 1)
        await asyncio.sleep(0.1)
        assert registry.services == {}  # Consul is unreachable: nothing registered yet
        registry.down = False  # it comes back: the next retry resyncs
        await until(lambda: "node1:web.0:80" in registry.services)
        # Consul forgets everything (a dev agent restarted): the periodic resync repairs it.
        registry.services.clear()
        engine.emit("stop", cid)  # the event path still works meanwhile
        engine.containers[cid]["State"]["Running"] = False
        engine.emit("die", cid)
        await until(lambda: ("deregister", "node1:web.0:80") in registry.calls)
        engine.containers[cid]["State"]["Running"] = True
        engine.emit("start", cid)
        await until(lambda: "node1:web.0:80" in registry.services)
        stop.set()
        await task
        assert engine.streams[0].closed

    run(body)


def test_periodic_resync_repairs_a_forgetful_agent() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        subject = registrator(engine, registry, resync_s=0.05)
        engine.add(inspect("web.0", env=WEB, ports={"80/tcp": 1}))
        stop = asyncio.Event()
        task = asyncio.create_task(subject.run(stop))
        await until(lambda: "node1:web.0:80" in registry.services)
        registry.services.clear()
        await until(lambda: "node1:web.0:80" in registry.services)
        stop.set()
        await task

    run(body)


def test_run_subscribes_again_when_the_stream_ends() -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        engine.down = True
        subject = registrator(engine, registry, retry_s=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(subject.run(stop))
        await asyncio.sleep(0.1)
        engine.down = False  # the engine came up
        await until(lambda: len(engine.streams) == 1)
        engine.streams[0].queue.put_nowait(None)  # and restarts: its stream ends
        await until(lambda: len(engine.streams) == 2)
        cid = engine.add(inspect("web.0", env=WEB, ports={"80/tcp": 1}))
        engine.emit("start", cid)
        await until(lambda: "node1:web.0:80" in registry.services)
        assert engine.streams[0].closed
        stop.set()
        await task

    run(body)


def test_an_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        engine, registry = FakeEngine(), MemoryRegistry()
        engine.add(inspect("web.0", env=WEB, ports={"80/tcp": 1}))
        subject = registrator(engine, registry, resync_s=30.0, retry_s=0.05)
        registry.down = True
        for _ in range(5):
            assert await subject.resync() is False
        registry.down = False
        assert await subject.resync() is True

    with caplog.at_level(logging.INFO, logger="whisk.registrator"):
        run(body)
    failed = [r for r in caplog.records if r.getMessage().startswith("resync failed")]
    back = [r for r in caplog.records if r.getMessage() == "resync succeeded again"]
    assert (len(failed), len(back)) == (1, 1)
