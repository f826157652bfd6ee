"""Invoking an action through the controller's Kafka path, on in-memory stores and bus.

The app is the real one (routes, middleware, authentication) over in-memory document
stores; a fake invoker reads `invoker<N>` from a MemoryBus, keeps the activation messages
for the assertions, and answers on `completed<M>` the way each test needs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.unit.controller.support import InMemory, activation_message
from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_bus import MemoryBus
from whisk_services.controller import errors
from whisk_services.controller.app import build_app
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.invocations import (
    COMPLETED_RETENTION_MS,
    INVOKER_RETENTION_MS,
    Invocations,
    PollSchedule,
    completed_topic,
    invoker_topic,
    store_poll_offsets,
    topics,
)
from whisk_services.model.activation import Activation, ActivationResponse
from whisk_services.model.identity import AuthKey
from whisk_services.model.messages import ActivationMessage, CompletionMessage, MessageUser
from whisk_services.model.names import FullyQualifiedName
from whisk_services.model.parameters import Parameters
from whisk_services.ports.documents import Document
from whisk_services.ports.messaging import MessagingError, TopicSpec

CONTROLLER = 2
INVOKER = 4
SUBJECT = "guest-user"
CODE = {"kind": "python:3.11", "code": "def main(args):\n    return args\n"}
HEADER = "x-openwhisk-activation-id"
LOG_LINE = "2024-01-01T00:00:00.000Z       stdout: hello"

Answer = Callable[["FakeInvoker", ActivationMessage], Awaitable[None]]


def no_polls() -> Iterable[float]:
    """A poll schedule without store reads: only completions can answer."""
    return ()


def fast_polls() -> Iterable[float]:
    """Read the store every 10 ms (the fallback, without waiting seconds in a test)."""
    return itertools.count(0.01, 0.01)


def record_for(
    message: ActivationMessage, response: ActivationResponse, logs: Sequence[str] = (LOG_LINE,)
) -> Activation:
    start = message.accepted_ms + 1
    return Activation(
        namespace=message.user.namespace,
        name=message.action.name,
        subject=message.user.subject,
        activation_id=message.activation_id,
        start=start,
        end=start + 3,
        response=response,
        logs=tuple(logs),
        annotations=Parameters.from_dict({"path": message.action.as_path(), "kind": "python"}),
    )


@dataclass
class FakeInvoker:
    """Reads `invoker<INVOKER>` and answers each message with ``answer``."""

    bus: MemoryBus
    activations: MemoryDocumentStore
    answer: Answer
    messages: list[ActivationMessage] = field(default_factory=list)

    async def run(self) -> None:
        topic = invoker_topic(INVOKER)
        consumer = await self.bus.consumer(topic, topic, "from_start")
        while True:
            message = ActivationMessage.decode(await consumer.receive())
            self.messages.append(message)
            await self.answer(self, message)

    async def complete(self, message: ActivationMessage, record: Activation | None) -> None:
        completion = CompletionMessage(
            transid=message.transid,
            activation_id=message.activation_id,
            invoker=INVOKER,
            is_system_error=False,
            activation=None if record is None else record.to_api(),
        )
        await self.bus.producer().send(completed_topic(message.controller), completion.encode())

    async def store(self, record: Activation) -> None:
        await self.activations.put(record.doc_id(), record.to_doc())


def answering(response: ActivationResponse) -> Answer:
    """Complete with the record (what an invoker does for a blocking caller)."""

    async def answer(invoker: FakeInvoker, message: ActivationMessage) -> None:
        await invoker.complete(message, record_for(message, response))

    return answer


async def silent(_invoker: FakeInvoker, _message: ActivationMessage) -> None:
    """An invoker that never answers."""


@dataclass
class Harness:
    client: TestClient[Any, Any]
    bus: MemoryBus
    whisks: MemoryDocumentStore
    activations: MemoryDocumentStore
    invocations: Invocations | None
    invoker: FakeInvoker
    key: AuthKey

    @property
    def auth(self) -> dict[str, str]:
        token = base64.b64encode(self.key.compact().encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def put(self, path: str, body: dict[str, Any]) -> None:
        response = await self.client.put(
            f"/api/v1/namespaces/_/{path}", json=body, headers=self.auth
        )
        assert response.status == 200, await response.text()

    async def action(self, name: str, **extra: Any) -> None:
        await self.put(f"actions/{name}", {"exec": CODE, **extra})

    async def invoke(
        self,
        name: str,
        query: str = "",
        payload: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, str | None]:
        response = await self.client.post(
            f"/api/v1/namespaces/_/actions/{name}{'?' + query if query else ''}",
            json=payload,
            headers={**self.auth, **(headers or {})},
        )
        return response.status, await response.json(), response.headers.get(HEADER)

    def sent_messages(self) -> list[tuple[str, ActivationMessage]]:
        return [
            (topic, ActivationMessage.decode(value))
            for topic, value in self.bus.sent
            if topic.startswith("invoker")
        ]


@contextlib.asynccontextmanager
async def started(
    answer: Answer = silent,
    *,
    kafka: bool = True,
    invokers: Sequence[int] = (INVOKER,),
    poll_offsets: PollSchedule = no_polls,
    max_wait_s: float = 60.0,
    activations: MemoryDocumentStore | None = None,
) -> AsyncIterator[Harness]:
    stores = await InMemory.open(activations=activations)
    bus, activations = stores.bus, stores.activations
    key = await stores.identity(SUBJECT)
    invocations = None
    if kafka:
        invocations = await Invocations.open(
            bus,
            activations,
            Balancer(invokers),
            CONTROLLER,
            max_wait_s=max_wait_s,
            poll_offsets=poll_offsets,
        )
    services = stores.services(invocations)
    invoker = FakeInvoker(bus, activations, answer)
    task = asyncio.create_task(invoker.run()) if kafka and INVOKER in invokers else None
    try:
        async with TestClient(TestServer(build_app(services))) as client:
            yield Harness(client, bus, stores.whisks, activations, invocations, invoker, key)
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if invocations is not None:
            await invocations.close()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


# --- non-blocking ---------------------------------------------------------------------------


def test_non_blocking_invoke_answers_202_once_the_message_is_sent() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action("echo", parameters=[{"key": "greeting", "value": "hi"}])
            before = time.time_ns() // 1_000_000
            status, body, header = await h.invoke(
                "echo", payload={"name": "Ada"}, headers={"X-Request-ID": "tid-nb-1"}
            )
            after = time.time_ns() // 1_000_000
            assert status == 202
            assert set(body) == {"activationId"}
            assert header == body["activationId"]
            [(topic, message)] = h.sent_messages()
            assert topic == invoker_topic(INVOKER)
            stored = await h.whisks.get("guest/echo")
            assert stored is not None
            assert message.activation_id == body["activationId"]
            assert message.transid == "tid-nb-1"
            assert before <= message.accepted_ms <= after
            assert message.action == FullyQualifiedName.parse("/guest/echo")
            assert message.action_version == "0.0.1"
            assert message.revision == stored.rev
            assert message.user == MessageUser(SUBJECT, "guest", h.key.uuid)
            assert message.controller == CONTROLLER
            assert message.blocking is False
            assert message.content == {"greeting": "hi", "name": "Ada"}
            assert message.init_args == ()
            assert message.api_key is None
            assert h.invocations is not None
            assert h.invocations.pending == 0

    run(scenario)


# --- blocking -------------------------------------------------------------------------------


def test_blocking_success_answers_200_with_the_record_without_logs() -> None:
    async def scenario() -> None:
        async with started(answering(ActivationResponse.success({"msg": "hello"}))) as h:
            await h.action("echo")
            status, body, header = await h.invoke(
                "echo", "blocking=true", headers={"X-Request-ID": "tid-b-1"}
            )
            assert status == 200, body
            [message] = h.invoker.messages
            assert message.blocking is True
            assert message.transid == "tid-b-1"
            expected = record_for(message, ActivationResponse.success({"msg": "hello"}))
            assert body == {**expected.to_api(), "logs": []}
            assert body["response"]["result"] == {"msg": "hello"}
            assert header == message.activation_id == body["activationId"]
            assert h.invocations is not None
            assert h.invocations.pending == 0

    run(scenario)


def test_result_true_answers_the_result_alone() -> None:
    async def scenario() -> None:
        async with started(answering(ActivationResponse.success({"msg": "hello"}))) as h:
            await h.action("echo")
            status, body, header = await h.invoke("echo", "result=true")
            assert (status, body) == (200, {"msg": "hello"})
            [message] = h.invoker.messages
            assert message.blocking is True  # result implies blocking
            assert header == message.activation_id

    run(scenario)


def test_result_true_returns_an_array_result_bare() -> None:
    async def scenario() -> None:
        async with started(answering(ActivationResponse.success([1, 2]))) as h:
            await h.action("echo")
            status, body, _ = await h.invoke("echo", "blocking=true&result=true")
            assert (status, body) == (200, [1, 2])

    run(scenario)


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (ActivationResponse.application_error({"error": "no name given"}), 502),
        (ActivationResponse.developer_error("The action did not initialize."), 502),
        (ActivationResponse.whisk_error("The invoker failed."), 500),
    ],
    ids=["application-error", "developer-error", "whisk-error"],
)
def test_failed_activations_answer_502_or_500(response: ActivationResponse, status: int) -> None:
    async def scenario() -> None:
        async with started(answering(response)) as h:
            await h.action("echo")
            got, body, header = await h.invoke("echo", "blocking=true")
            assert got == status, body
            [message] = h.invoker.messages
            assert body == {**record_for(message, response).to_api(), "logs": []}
            assert header == message.activation_id
            got, body, header = await h.invoke("echo", "result=true")
            assert (got, body) == (status, response.result)
            assert header == h.invoker.messages[1].activation_id

    run(scenario)


def test_a_completion_with_only_the_id_is_answered_from_the_store() -> None:
    async def answer(invoker: FakeInvoker, message: ActivationMessage) -> None:
        await invoker.store(record_for(message, ActivationResponse.success({"from": "store"})))
        await invoker.complete(message, None)

    async def scenario() -> None:
        async with started(answer, poll_offsets=no_polls) as h:
            await h.action("echo")
            status, body, header = await h.invoke("echo", "blocking=true")
            assert status == 200, body
            assert body["response"]["result"] == {"from": "store"}
            assert body["logs"] == []
            assert header == body["activationId"]

    run(scenario)


class WatchedStore(MemoryDocumentStore):
    """The memory store, telling when a document was first looked for."""

    def __init__(self) -> None:
        super().__init__("activations")
        self.looked_for: dict[str, asyncio.Event] = {}

    def event(self, doc_id: str) -> asyncio.Event:
        return self.looked_for.setdefault(doc_id, asyncio.Event())

    async def get(self, doc_id: str) -> Document | None:
        found = await super().get(doc_id)
        self.event(doc_id).set()
        return found


def test_a_completion_ahead_of_its_record_waits_for_the_record() -> None:
    store = WatchedStore()

    async def answer(invoker: FakeInvoker, message: ActivationMessage) -> None:
        record = record_for(message, ActivationResponse.success({"late": True}))
        await invoker.complete(message, None)
        # The record lands only after the controller looked for it once, in vain.
        await store.event(record.doc_id()).wait()
        await invoker.store(record)

    async def scenario() -> None:
        async with started(answer, poll_offsets=no_polls, activations=store) as h:
            await h.action("echo")
            status, body, _ = await h.invoke("echo", "result=true")
            assert (status, body) == (200, {"late": True})

    run(scenario)


def test_a_lost_completion_is_made_up_for_by_reading_the_store() -> None:
    async def answer(invoker: FakeInvoker, message: ActivationMessage) -> None:
        await invoker.store(record_for(message, ActivationResponse.success({"polled": 1})))

    async def scenario() -> None:
        async with started(answer, poll_offsets=fast_polls) as h:
            await h.action("echo")
            status, body, header = await h.invoke("echo", "blocking=true")
            assert status == 200, body
            assert body["response"]["result"] == {"polled": 1}
            assert header == body["activationId"]

    run(scenario)


def echo_message(activation_id: str) -> ActivationMessage:
    """A blocking message for ``guest/echo``, accepted at 0."""
    return activation_message(
        activation_id,
        action="/guest/echo",
        subject=SUBJECT,
        uuid="u",
        controller=CONTROLLER,
        blocking=True,
        transid="t",
        revision="1-a",
        accepted_ms=0,
    )


class InstantProducer:
    """A producer whose invoker answers before ``send`` even returns."""

    def __init__(self) -> None:
        self.invocations: Invocations | None = None
        self.closed = False

    async def send(self, topic: str, value: bytes) -> None:
        message = ActivationMessage.decode(value)
        record = record_for(message, ActivationResponse.success({"fast": True}))
        completion = CompletionMessage("t", message.activation_id, 0, False, record.to_api())
        assert self.invocations is not None
        self.invocations.complete(completion.encode())

    async def close(self) -> None:
        self.closed = True


def test_the_waiter_is_registered_before_the_message_leaves() -> None:
    async def scenario() -> None:
        producer = InstantProducer()
        invocations = Invocations(
            producer, MemoryDocumentStore(), Balancer([0]), CONTROLLER, poll_offsets=no_polls
        )
        producer.invocations = invocations
        message = echo_message("3" * 32)
        finished = await invocations.send_and_wait(message, 60.0)
        assert finished is not None
        assert finished.record["response"]["result"] == {"fast": True}
        assert invocations.pending == 0
        await invocations.close()
        assert producer.closed

    run(scenario)


def test_the_default_store_polls_follow_openwhisk() -> None:
    offsets = list(itertools.islice(store_poll_offsets(), 11))
    assert offsets == [1, 3, 5, 7, 9, 11, 13, 15, 30, 45, 60]


def test_an_elapsed_timeout_answers_202_with_the_id() -> None:
    async def scenario() -> None:
        async with started(silent) as h:
            await h.action("echo")
            status, body, header = await h.invoke("echo", "blocking=true&timeout=1")
            assert status == 202
            [message] = h.invoker.messages
            assert body == {"activationId": message.activation_id}
            assert header == message.activation_id
            assert h.invocations is not None
            assert h.invocations.pending == 0

    run(scenario)


def test_the_blocking_wait_is_capped_by_the_setting() -> None:
    async def scenario() -> None:
        async with started(silent, max_wait_s=0.001) as h:
            await h.action("echo")
            status, body, _ = await h.invoke("echo", "blocking=true&timeout=600000")
            assert status == 202
            assert set(body) == {"activationId"}

    run(scenario)


@pytest.mark.parametrize("timeout", ["abc", "0", "-1", "1.5", "1e3", "\u00b2"])
def test_a_bad_timeout_is_400(timeout: str) -> None:
    async def scenario() -> None:
        async with started(silent) as h:
            await h.action("echo")
            status, body, _ = await h.invoke("echo", f"blocking=true&timeout={timeout}")
            assert status == 400
            assert body["error"] == errors.BAD_TIMEOUT
            assert h.sent_messages() == []

    run(scenario)


def test_bad_blocking_or_result_flags_are_400() -> None:
    async def scenario() -> None:
        async with started(silent) as h:
            await h.action("echo")
            for query in ("blocking=maybe", "result=1"):
                status, _, _ = await h.invoke("echo", query)
                assert status == 400
            assert h.sent_messages() == []

    run(scenario)


def test_completions_that_are_malformed_or_unknown_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        async with started(answering(ActivationResponse.success({"ok": True}))) as h:
            producer = h.bus.producer()
            await producer.send(completed_topic(CONTROLLER), b"not json")
            await producer.send(completed_topic(CONTROLLER), b'{"transid": "x"}')
            stranger = CompletionMessage("tid", "0" * 32, INVOKER, False, None)
            await producer.send(completed_topic(CONTROLLER), stranger.encode())
            await h.action("echo")
            status, body, _ = await h.invoke("echo", "result=true")
            assert (status, body) == (200, {"ok": True})

    with caplog.at_level(logging.WARNING, logger="whisk.controller.invocations"):
        run(scenario)
    malformed = [r for r in caplog.records if "malformed completion" in r.getMessage()]
    assert len(malformed) == 2


# --- the message's arguments ----------------------------------------------------------------


def test_payload_overrides_the_action_parameters() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action(
                "echo",
                parameters=[{"key": "a", "value": 1}, {"key": "b", "value": 1}],
            )
            status, _, _ = await h.invoke("echo", payload={"b": 2, "c": 3})
            assert status == 202
            [(_, message)] = h.sent_messages()
            assert message.content == {"a": 1, "b": 2, "c": 3}

    run(scenario)


def test_a_final_action_refuses_payload_keys_it_defines() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action(
                "sealed",
                parameters=[{"key": "a", "value": 1}, {"key": "open", "value": None}],
                annotations=[{"key": "final", "value": True}],
            )
            status, body, _ = await h.invoke("sealed", payload={"a": 2})
            assert status == 400
            assert body["error"] == errors.RESERVED_PARAMETERS
            assert set(body) == {"error", "code"}
            assert h.sent_messages() == []
            # Keys it does not define, or leaves null, are the caller's to set.
            status, _, _ = await h.invoke("sealed", payload={"b": 2, "open": 3})
            assert status == 202
            [(_, message)] = h.sent_messages()
            assert message.content == {"a": 1, "open": 3, "b": 2}
            # Without `final` the same payload overrides.
            await h.action("unsealed", parameters=[{"key": "a", "value": 1}])
            status, _, _ = await h.invoke("unsealed", payload={"a": 2})
            assert status == 202
            assert h.sent_messages()[-1][1].content == {"a": 2}

    run(scenario)


def test_init_parameters_are_named_in_init_args_and_kept_in_content() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action(
                "echo",
                parameters=[
                    {"key": "secret", "value": "s3", "init": True},
                    {"key": "plain", "value": 2},
                ],
            )
            status, _, _ = await h.invoke("echo", payload={"secret": "override"})
            assert status == 202
            [(_, message)] = h.sent_messages()
            assert message.init_args == ("secret",)
            assert message.content == {"secret": "override", "plain": 2}

    run(scenario)


@pytest.mark.parametrize(("annotation", "sent"), [(True, True), (False, False), (None, False)])
def test_the_api_key_travels_only_when_the_action_asks(annotation: Any, sent: bool) -> None:
    async def scenario() -> None:
        async with started() as h:
            annotations = (
                [] if annotation is None else [{"key": "provide-api-key", "value": annotation}]
            )
            await h.action("echo", annotations=annotations)
            if annotation is None:  # drop the default `provide-api-key: false` of a create
                doc = await h.whisks.get("guest/echo")
                assert doc is not None
                body = dict(doc.body)
                body["annotations"] = [
                    a for a in body["annotations"] if a["key"] != "provide-api-key"
                ]
                await h.whisks.put(doc.id, body, doc.rev)
            status, _, _ = await h.invoke("echo")
            assert status == 202
            [(_, message)] = h.sent_messages()
            assert message.api_key == (h.key.compact() if sent else None)

    run(scenario)


def test_an_action_read_through_a_binding_is_sent_by_its_package_path() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.put("packages/utils", {})
            await h.action("utils/echo")
            await h.put("packages/mine", {"binding": {"namespace": "_", "name": "utils"}})
            status, _, _ = await h.invoke("mine/echo")
            assert status == 202
            [(_, message)] = h.sent_messages()
            stored = await h.whisks.get("guest/utils/echo")
            assert stored is not None
            assert message.action == FullyQualifiedName.parse("/guest/utils/echo")
            assert message.revision == stored.rev

    run(scenario)


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "blocking=true"])
def test_a_failed_send_is_503_and_leaves_no_waiter(query: str) -> None:
    async def scenario() -> None:
        async with started(silent) as h:
            await h.action("echo")
            h.bus.fail_sends = True
            status, body, _ = await h.invoke("echo", query, headers={"X-Request-ID": "tid-503"})
            assert status == 503
            assert body == {"error": errors.QUEUE_UNAVAILABLE, "code": "tid-503"}
            assert h.invocations is not None
            assert h.invocations.pending == 0

    run(scenario)


def test_a_sequence_is_run_by_the_controller() -> None:
    async def scenario() -> None:
        async with started(answering(ActivationResponse.success({"ok": True}))) as h:
            await h.action("echo")
            await h.put("actions/chain", {"exec": {"kind": "sequence", "components": ["/_/echo"]}})
            status, body, header = await h.invoke("chain", "result=true")
            assert (status, body) == (200, {"ok": True})
            [(_, message)] = h.sent_messages()
            assert message.action.name == "echo"
            assert message.cause == header

    run(scenario)


def test_without_kafka_invokes_answer_503() -> None:
    async def scenario() -> None:
        async with started(kafka=False) as h:
            await h.action("echo")
            for query in ("", "blocking=true"):
                status, body, _ = await h.invoke("echo", query)
                assert status == 503
                assert body["error"] == "No invokers available."
            status, _, _ = await h.invoke("missing")
            assert status == 404

    run(scenario)


def test_validation_comes_before_sending() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action("echo")
            status, _, _ = await h.invoke("missing")
            assert status == 404
            status, _, _ = await h.invoke("echo", payload=[1, 2])
            assert status == 400
            status, _, _ = await h.invoke("echo", payload={"x": "y" * (1024 * 1024)})
            assert status == 413
            assert h.sent_messages() == []

    run(scenario)


# --- the balancer and the topics ------------------------------------------------------------


def test_the_balancer_is_a_stable_crc32_hash() -> None:
    balancer = Balancer([0, 1, 2, 3])
    names = ["echo", "hello", "a", "b", "c", "d", "e", "f"]
    chosen = [balancer.choose("guest", FullyQualifiedName.parse(f"/guest/{n}")) for n in names]
    # Fixed values: the same in every process, unlike Python's per-process str hash.
    assert chosen == [0, 2, 2, 0, 2, 1, 3, 1]
    for name in names:
        fqn = FullyQualifiedName.parse(f"/guest/{name}")
        key = f"guest\x00{fqn}".encode()
        assert balancer.choose("guest", fqn) == zlib.crc32(key) % 4
    # The caller's namespace counts: a shared action spreads over its callers.
    shared = FullyQualifiedName.parse("/whisk.system/utils/echo")
    assert len({balancer.choose(f"user{i}", shared) for i in range(40)}) == 4


def test_the_balancer_spreads_actions_over_all_invokers() -> None:
    invokers = [3, 7, 8, 11]
    balancer = Balancer(invokers)
    counts = {n: 0 for n in invokers}
    for i in range(400):
        counts[balancer.choose("guest", FullyQualifiedName.parse(f"/guest/action{i}"))] += 1
    assert all(count >= 60 for count in counts.values()), counts
    assert Balancer([5]).choose("guest", FullyQualifiedName.parse("/guest/x")) == 5
    with pytest.raises(ValueError, match="at least one invoker"):
        Balancer([])


def test_invokes_go_to_the_invoker_the_balancer_chooses() -> None:
    async def scenario() -> None:
        invokers = (3, 5, 6)
        async with started(invokers=invokers) as h:
            balancer = Balancer(invokers)
            names = [f"act{i}" for i in range(12)]
            for name in names:
                await h.action(name)
                status, _, _ = await h.invoke(name)
                assert status == 202
            sent = h.sent_messages()
            assert [m.action.name for _, m in sent] == names
            for topic, message in sent:
                assert topic == invoker_topic(balancer.choose("guest", message.action))
            assert {topic for topic, _ in sent} == {invoker_topic(n) for n in invokers}

    run(scenario)


def test_topics_and_their_retention() -> None:
    assert topics(1, [0, 4]) == [
        TopicSpec("completed1", COMPLETED_RETENTION_MS),
        TopicSpec("invoker0", INVOKER_RETENTION_MS),
        TopicSpec("invoker4", INVOKER_RETENTION_MS),
    ]
    assert COMPLETED_RETENTION_MS == 3_600_000
    assert INVOKER_RETENTION_MS == 48 * 3_600_000


def test_open_reads_completions_from_now_and_close_releases_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        activations = MemoryDocumentStore("activations")
        completed = completed_topic(CONTROLLER)
        await bus.ensure_topics(topics(CONTROLLER, [INVOKER]))
        await bus.producer().send(completed, b"an old, malformed completion")
        invocations = await Invocations.open(bus, activations, Balancer([INVOKER]), CONTROLLER)
        assert set(bus.topics) == {completed, invoker_topic(INVOKER)}
        invoker = FakeInvoker(bus, activations, answering(ActivationResponse.success({})))
        task = asyncio.create_task(invoker.run())
        message = echo_message("2" * 32)
        finished = await invocations.send_and_wait(message, 60.0)
        assert finished is not None
        assert finished.record["activationId"] == message.activation_id
        task.cancel()
        await invocations.close()
        with pytest.raises(MessagingError, match="closed"):
            await invocations.send(message)

    with caplog.at_level(logging.WARNING, logger="whisk.controller.invocations"):
        run(scenario)
    # The consumer started at the end: the old message before it was never read.
    assert [r for r in caplog.records if "malformed" in r.getMessage()] == []
