"""Stopping a controller loses nothing: it stops accepting requests first, lets the blocking
waits and sequences run for the drain time, then answers the callers still waiting 202 with
their activation id, and every activation id handed out ends with a record.

The app is the real one, served by the runner the controller uses (``graceful_runner``) on
a loopback port, over in-memory stores and bus, with the fake invoker of ``test_invoke``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.unit.controller.support import InMemory, activation_message
from tests.unit.controller.test_invoke import (
    CODE,
    CONTROLLER,
    HEADER,
    INVOKER,
    SUBJECT,
    Answer,
    FakeInvoker,
    answering,
    no_polls,
    silent,
)
from tests.unit.controller.test_sequences import Components, trail
from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.controller import errors
from whisk_services.controller.acks import AckTracker
from whisk_services.controller.app import build_app
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.context import Services
from whisk_services.controller.invocations import Invocations
from whisk_services.controller.sequences import cancel_all
from whisk_services.controller.shutdown import ANSWER_S, graceful_runner, stop_serving, until
from whisk_services.model.activation import Activation, ActivationResponse, ActivationStatus
from whisk_services.model.messages import ActivationMessage
from whisk_services.ports.documents import DocumentStoreError, JsonObject


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout=20))


@dataclass
class Served:
    """A controller serving on a loopback port, and a client session to it."""

    runner: web.AppRunner
    services: Services
    invocations: Invocations
    invoker: FakeInvoker
    activations: MemoryDocumentStore
    session: aiohttp.ClientSession
    url: str
    auth: dict[str, str]

    async def put(self, path: str, body: JsonObject) -> None:
        async with self.session.put(
            f"{self.url}/api/v1/namespaces/_/{path}", json=body, headers=self.auth
        ) as response:
            assert response.status == 200, await response.text()

    async def invoke(self, name: str, query: str = "") -> tuple[int, Any, str | None]:
        async with self.session.post(
            f"{self.url}/api/v1/namespaces/_/actions/{name}?{query}", headers=self.auth
        ) as response:
            return response.status, await response.json(), response.headers.get(HEADER)

    async def sent(self, count: int) -> list[ActivationMessage]:
        """Wait until the fake invoker got ``count`` messages."""
        assert await until(lambda: len(self.invoker.messages) >= count, 5.0)
        return self.invoker.messages

    async def record(self, activation_id: str) -> Activation | None:
        doc = await self.activations.get(f"guest/{activation_id}")
        return None if doc is None else Activation.from_doc(doc.body)

    def stop(self) -> asyncio.Task[None]:
        """Stop serving as the controller does on SIGTERM."""
        return asyncio.create_task(stop_serving(self.runner, self.services))


@contextlib.asynccontextmanager
async def serving(answer: Answer, drain_s: float) -> AsyncIterator[Served]:
    stores = await InMemory.open()
    bus, activations = stores.bus, stores.activations
    key = await stores.identity(SUBJECT)
    invocations = await Invocations.open(
        bus, activations, Balancer([INVOKER]), CONTROLLER, poll_offsets=no_polls
    )
    services = stores.services(invocations)
    runner = graceful_runner(build_app(services), services, drain_s)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    invoker = FakeInvoker(bus, activations, answer)
    task = asyncio.create_task(invoker.run())
    token = base64.b64encode(key.compact().encode()).decode()
    session = aiohttp.ClientSession()
    try:
        yield Served(
            runner,
            services,
            invocations,
            invoker,
            activations,
            session,
            f"http://127.0.0.1:{port}",
            {"Authorization": f"Basic {token}"},
        )
    finally:
        await session.close()
        await runner.cleanup()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await invocations.close()


def delayed(delay_s: float, response: ActivationResponse) -> Answer:
    async def answer(invoker: FakeInvoker, message: ActivationMessage) -> None:
        await asyncio.sleep(delay_s)
        await answering(response)(invoker, message)

    return answer


# --- blocking callers ------------------------------------------------------------------------


def test_a_caller_still_waiting_after_the_drain_time_gets_202_with_its_id() -> None:
    async def body() -> None:
        async with serving(silent, drain_s=0.5) as s:
            await s.put("actions/sleepy", {"exec": CODE})
            loop = asyncio.get_running_loop()
            invoke = asyncio.create_task(s.invoke("sleepy", "blocking=true"))
            [message] = await s.sent(1)
            started = loop.time()
            stopping = s.stop()
            # New requests are refused at once: the listening socket is closed first.
            await asyncio.sleep(0.1)
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True)
            ) as fresh:
                with pytest.raises(aiohttp.ClientConnectionError):
                    await fresh.get(f"{s.url}/ping")
            assert not invoke.done()  # the blocking caller is given the drain time
            status, answer, header = await invoke
            waited = loop.time() - started
            assert (status, answer) == (202, {"activationId": message.activation_id})
            assert header == message.activation_id
            assert 0.5 <= waited < 0.5 + ANSWER_S
            await stopping
            # Still awaited: its invoker writes its record (or the ack tracker forces one).
            assert message.activation_id in s.invocations.acks

    run(body)


def test_a_wait_that_ends_within_the_drain_time_gets_its_result() -> None:
    async def body() -> None:
        result = ActivationResponse.success({"done": True})
        async with serving(delayed(0.4, result), drain_s=5.0) as s:
            await s.put("actions/slowish", {"exec": CODE})
            loop = asyncio.get_running_loop()
            invoke = asyncio.create_task(s.invoke("slowish", "result=true"))
            await s.sent(1)
            started = loop.time()
            stopping = s.stop()
            assert await invoke == (200, {"done": True}, s.invoker.messages[0].activation_id)
            await stopping
            # Nothing left to wait for: the stop did not sit out the drain time.
            assert loop.time() - started < 2.0

    run(body)


def test_a_wait_starting_after_the_drain_ends_at_once_and_its_message_is_sent() -> None:
    async def body() -> None:
        async with serving(silent, drain_s=0.1) as s:
            await s.runner.cleanup()
            message = activation_message(
                "e" * 32,
                action="/guest/late",
                subject=SUBJECT,
                controller=CONTROLLER,
                blocking=True,
            )
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await s.invocations.send_and_wait(message, 30.0) is None
            assert loop.time() - started < 1.0
            assert [m.activation_id for m in await s.sent(1)] == ["e" * 32]

    run(body)


# --- sequences -------------------------------------------------------------------------------


def test_a_sequence_still_running_after_the_drain_ends_with_its_record() -> None:
    async def body() -> None:
        # Component `a` answers, `stuck` never does.
        async with serving(Components({"a": trail("a")}), drain_s=0.5) as s:
            for name in ("a", "stuck"):
                await s.put(f"actions/{name}", {"exec": CODE})
            await s.put(
                "actions/s", {"exec": {"kind": "sequence", "components": ["/_/a", "/_/stuck"]}}
            )
            invoke = asyncio.create_task(s.invoke("s", "blocking=true"))
            first, second = await s.sent(2)
            await s.stop()
            status, answer, header = await invoke
            assert status == 202
            sequence_id = answer["activationId"]
            assert header == sequence_id
            record = await s.record(sequence_id)
            assert record is not None
            assert record.response.status is ActivationStatus.WHISK_ERROR
            assert record.response.result == {
                "error": errors.sequence_component_interrupted("/guest/stuck")
            }
            assert list(record.logs) == [first.activation_id, second.activation_id]
            assert not s.services.background

    run(body)


def test_a_cancelled_sequence_still_writes_its_record() -> None:
    async def body() -> None:
        async with serving(silent, drain_s=0.1) as s:
            await s.put("actions/stuck", {"exec": CODE})
            await s.put("actions/s", {"exec": {"kind": "sequence", "components": ["/_/stuck"]}})
            status, answer, _ = await s.invoke("s")
            assert status == 202
            [component] = await s.sent(1)
            await cancel_all(s.services.background)
            record = await s.record(answer["activationId"])
            assert record is not None
            assert record.response.status is ActivationStatus.WHISK_ERROR
            assert record.response.result == {"error": errors.SEQUENCE_INTERRUPTED}
            assert list(record.logs) == [component.activation_id]

    run(body)


# --- the records the ack tracker owes --------------------------------------------------------


def overdue_message(n: int) -> ActivationMessage:
    return activation_message(n, action="/guest/lost", subject=SUBJECT, controller=CONTROLLER)


class SlowStore(MemoryDocumentStore):
    """Writes take ``delay_s``; ``writing`` is set when the first write began."""

    def __init__(self, delay_s: float) -> None:
        super().__init__("activations")
        self.delay_s = delay_s
        self.writing = asyncio.Event()

    async def put(self, doc_id: str, body: JsonObject, rev: str | None = None) -> str:
        self.writing.set()
        await asyncio.sleep(self.delay_s)
        return await super().put(doc_id, body, rev)


class DownStore(MemoryDocumentStore):
    """A store that cannot be reached."""

    async def get(self, doc_id: str) -> Any:
        raise DocumentStoreError("the database is unreachable")

    async def put(self, doc_id: str, body: JsonObject, rev: str | None = None) -> str:
        raise DocumentStoreError("the database is unreachable")


def test_closing_the_ack_tracker_lets_a_forced_record_land() -> None:
    async def body() -> None:
        store = SlowStore(delay_s=0.3)
        acks = AckTracker(store, grace_s=0.0)
        acks.sent(overdue_message(1), INVOKER, timeout_ms=0)
        acks.start()
        await store.writing.wait()  # the sweep is writing the record it owes
        await acks.close()
        assert await store.get(f"guest/{1:032x}") is not None
        assert acks.owed == []

    run(body)


def test_a_record_the_ack_tracker_cannot_write_is_named_in_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body() -> None:
        acks = AckTracker(DownStore("activations"), grace_s=0.0)
        acks.sent(overdue_message(2), INVOKER, timeout_ms=0)
        acks.sent(overdue_message(3), INVOKER, timeout_ms=600_000)  # still awaited
        acks.start()
        await acks.close(close_s=1.0)
        assert acks.owed == [f"{2:032x}"]

    with caplog.at_level(logging.WARNING, logger="whisk.controller.acks"):
        run(body)
    [owed] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"{2:032x}" in owed.getMessage()
    assert "not written" in owed.getMessage()
    assert any("1 activation(s) still awaiting" in r.getMessage() for r in caplog.records), (
        caplog.text
    )
