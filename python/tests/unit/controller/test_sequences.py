"""Sequences: the controller runs the components one after another, on in-memory stores
and bus, with a fake invoker that answers each component by its name.

The harness is test_invoke's (the real app over in-memory stores and a MemoryBus).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.controller.test_invoke import (
    CONTROLLER,
    SUBJECT,
    FakeInvoker,
    Harness,
    run,
    started,
)
from whisk_services.controller.activator import Activator, Target
from whisk_services.controller.sequences import (
    MAX_NESTING,
    ComponentUnavailable,
    Conductor,
    cancel_all,
    launch,
)
from whisk_services.model.activation import Activation, ActivationResponse, ActivationStatus
from whisk_services.model.entities import Action
from whisk_services.model.identity import Identity
from whisk_services.model.messages import ActivationMessage
from whisk_services.model.names import FullyQualifiedName
from whisk_services.model.parameters import Parameters

Behaviour = Callable[[dict[str, Any]], ActivationResponse]


def trail(step: str) -> Behaviour:
    """A component that appends ``step`` to the `trail` it receives."""

    def behave(content: dict[str, Any]) -> ActivationResponse:
        return ActivationResponse.success({"trail": [*content.get("trail", []), step]})

    return behave


def failing(content: dict[str, Any]) -> ActivationResponse:
    return ActivationResponse.application_error({"error": "bad input", "got": content})


class Components:
    """The fake invoker's answers by action name; each record is stored, then completed."""

    def __init__(self, behaviours: dict[str, Behaviour], delay_s: float = 0.0) -> None:
        self.behaviours = behaviours
        self.delay_s = delay_s

    async def __call__(self, invoker: FakeInvoker, message: ActivationMessage) -> None:
        behave = self.behaviours.get(message.action.name)
        if behave is None:
            return  # never answers
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        start = message.accepted_ms + 1
        record = Activation(
            namespace=message.user.namespace,
            name=message.action.name,
            subject=message.user.subject,
            activation_id=message.activation_id,
            start=start,
            end=start + 2,
            response=behave(dict(message.content)),
            cause=message.cause,
            annotations=Parameters.from_dict({"path": message.action.as_path()}),
        )
        await invoker.store(record)
        await invoker.complete(message, record)


def standard(delay_s: float = 0.0) -> Components:
    return Components({"a": trail("a"), "b": trail("b"), "c": trail("c"), "bad": failing}, delay_s)


async def sequence(h: Harness, name: str, *components: str, **extra: Any) -> None:
    await h.put(
        f"actions/{name}",
        {"exec": {"kind": "sequence", "components": list(components)}, **extra},
    )


async def actions(h: Harness, *names: str, **extra: Any) -> None:
    for name in names:
        await h.action(name, **extra)


async def record(h: Harness, activation_id: str, wait_s: float = 2.0) -> dict[str, Any]:
    """The stored activation ``activation_id`` (waiting for it a little)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        doc = await h.activations.get(f"guest/{activation_id}")
        if doc is not None:
            return Activation.from_doc(doc.body).to_api()
        assert loop.time() < deadline, f"no record of {activation_id}"
        await asyncio.sleep(0.01)


def notes_of(rec: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in rec["annotations"]}


def components_sent(h: Harness) -> list[ActivationMessage]:
    return [message for _, message in h.sent_messages()]


# --- chaining -------------------------------------------------------------------------------


def test_results_chain_through_three_components() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a", "b", "c")
            await sequence(
                h, "s", "/_/a", "/_/b", "/_/c", parameters=[{"key": "greeting", "value": "hi"}]
            )
            status, body, header = await h.invoke(
                "s", "blocking=true", {"trail": ["start"]}, headers={"X-Request-ID": "tid-seq"}
            )
            assert status == 200, body
            assert body["response"]["result"] == {"trail": ["start", "a", "b", "c"]}
            assert body["response"]["status"] == "success"
            assert body["activationId"] == header
            assert body["name"] == "s"
            assert body["logs"] == []  # as any blocking answer: the record without its logs
            sent = components_sent(h)
            assert [m.action.name for m in sent] == ["a", "b", "c"]
            # The first gets the sequence's parameters and the payload, not `_actions`.
            assert sent[0].content == {"greeting": "hi", "trail": ["start"]}
            assert sent[1].content == {"trail": ["start", "a"]}
            for message in sent:
                assert message.cause == header
                assert message.blocking is True
                assert message.transid == "tid-seq"
                assert message.controller == CONTROLLER

    run(scenario)


def test_the_sequence_record_lists_its_components_and_carries_its_annotations() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a", "b")
            await h.action("c", limits={"memory": 512})
            await sequence(h, "s", "/_/a", "/_/b", "/_/c", limits={"timeout": 1000})
            status, body, header = await h.invoke("s", "blocking=true")
            assert status == 200
            assert header is not None
            rec = await record(h, header)
            sent = components_sent(h)
            assert rec["logs"] == [m.activation_id for m in sent]
            assert rec["name"] == "s"
            assert rec["namespace"] == "guest"
            assert rec["subject"] == SUBJECT
            assert "cause" not in rec
            assert rec["response"] == body["response"]
            assert rec["end"] >= rec["start"]
            notes = notes_of(rec)
            assert notes["topmost"] is True
            assert notes["path"] == "guest/s"
            assert notes["kind"] == "sequence"
            # The sequence's limits, with the largest memory of its components.
            assert notes["limits"]["timeout"] == 1000
            assert notes["limits"]["memory"] == 512
            assert notes["waitTime"] >= 0
            assert "causedBy" not in notes
            for message in sent:
                component = await record(h, message.activation_id)
                assert component["cause"] == header

    run(scenario)


# --- stopping -------------------------------------------------------------------------------


def test_the_first_failure_stops_the_sequence_and_is_its_response() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a", "bad", "c")
            await sequence(h, "s", "/_/a", "/_/bad", "/_/c")
            status, body, header = await h.invoke("s", "blocking=true")
            assert status == 502
            assert body["response"]["status"] == "application error"
            assert body["response"]["result"] == {"error": "bad input", "got": {"trail": ["a"]}}
            sent = components_sent(h)
            assert [m.action.name for m in sent] == ["a", "bad"]  # `c` never runs
            assert header is not None
            rec = await record(h, header)
            assert rec["logs"] == [m.activation_id for m in sent]
            assert rec["response"]["status"] == "application error"

    run(scenario)


def test_result_true_answers_the_result_alone_also_for_a_failure() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a", "bad", "b")
            await sequence(h, "good", "/_/a", "/_/b")
            await sequence(h, "broken", "/_/a", "/_/bad")
            status, body, header = await h.invoke("good", "result=true")
            assert (status, body) == (200, {"trail": ["a", "b"]})
            assert header is not None
            status, body, _ = await h.invoke("broken", "result=true")
            assert (status, body) == (502, {"error": "bad input", "got": {"trail": ["a"]}})

    run(scenario)


def test_a_missing_component_ends_the_sequence_with_an_error_naming_it() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a", "c")
            await sequence(h, "s", "/_/a", "/_/b", "/_/c")
            status, body, header = await h.invoke("s", "blocking=true")
            assert status == 502
            assert body["response"]["status"] == "application error"
            assert body["response"]["result"] == {
                "error": "Sequence component '/guest/b' does not exist."
            }
            sent = components_sent(h)
            assert [m.action.name for m in sent] == ["a"]
            assert header is not None
            assert (await record(h, header))["logs"] == [sent[0].activation_id]

    run(scenario)


def test_a_component_the_caller_may_not_read_ends_the_sequence() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a")
            await sequence(h, "s", "/_/a", "/someone.else/secret")
            status, body, _ = await h.invoke("s", "blocking=true")
            assert status == 502
            error = body["response"]["result"]["error"]
            assert "'/someone.else/secret'" in error
            assert "not accessible" in error

    run(scenario)


def test_a_component_result_that_is_not_an_object_cannot_feed_the_next() -> None:
    async def scenario() -> None:
        answers = standard()
        answers.behaviours["list"] = lambda _content: ActivationResponse.success([1, 2])
        async with started(answers) as h:
            await actions(h, "list", "a")
            await sequence(h, "ends_with_list", "/_/a", "/_/list")
            await sequence(h, "list_first", "/_/list", "/_/a")
            status, body, _ = await h.invoke("ends_with_list", "result=true")
            assert (status, body) == (200, [1, 2])
            status, body, _ = await h.invoke("list_first", "result=true")
            assert status == 502
            assert "'/guest/list' did not return a JSON object" in body["error"]

    run(scenario)


# --- nesting --------------------------------------------------------------------------------


def test_a_nested_sequence_runs_with_its_own_record() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a", "b", "c")
            await sequence(h, "inner", "/_/b", "/_/c", parameters=[{"key": "x", "value": 1}])
            await sequence(h, "outer", "/_/a", "/_/inner")
            status, body, header = await h.invoke("outer", "blocking=true")
            assert status == 200, body
            assert body["response"]["result"] == {"trail": ["a", "b", "c"]}
            assert header is not None
            outer = await record(h, header)
            a, b, c = components_sent(h)
            assert a.cause == header
            inner_id = outer["logs"][1]
            assert outer["logs"] == [a.activation_id, inner_id]
            inner = await record(h, inner_id)
            assert inner["name"] == "inner"
            assert inner["cause"] == header
            assert inner["logs"] == [b.activation_id, c.activation_id]
            assert b.cause == c.cause == inner_id
            # The inner sequence's parameters join the previous result.
            assert b.content == {"trail": ["a"], "x": 1}
            notes = notes_of(inner)
            assert "topmost" not in notes
            assert notes["causedBy"] == "sequence"
            assert notes["kind"] == "sequence"

    run(scenario)


def test_nesting_deeper_than_the_limit_is_an_error() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a")
            await sequence(h, "s1", "/_/a")
            for level in range(2, MAX_NESTING + 2):
                await sequence(h, f"s{level}", f"/_/s{level - 1}")
            status, body, _ = await h.invoke(f"s{MAX_NESTING}", "result=true")
            assert (status, body) == (200, {"trail": ["a"]})
            status, body, _ = await h.invoke(f"s{MAX_NESTING + 1}", "result=true")
            assert status == 502
            assert body == {"error": f"Sequence nesting exceeds the limit of {MAX_NESTING} levels."}

    run(scenario)


# --- blocking and not -----------------------------------------------------------------------


def test_non_blocking_answers_202_at_once_and_the_record_appears() -> None:
    async def scenario() -> None:
        async with started(standard(delay_s=0.05)) as h:
            await actions(h, "a", "b")
            await sequence(h, "s", "/_/a", "/_/b")
            status, body, header = await h.invoke("s")
            assert status == 202
            assert body == {"activationId": header}
            assert header is not None
            rec = await record(h, header)
            assert rec["response"]["result"] == {"trail": ["a", "b"]}
            assert len(rec["logs"]) == 2

    run(scenario)


def test_a_blocking_caller_gets_202_when_its_wait_ends_and_the_sequence_goes_on() -> None:
    async def scenario() -> None:
        async with started(standard(delay_s=0.2)) as h:
            await actions(h, "a", "b")
            await sequence(h, "s", "/_/a", "/_/b")
            status, body, header = await h.invoke("s", "blocking=true&timeout=100")
            assert status == 202
            assert body == {"activationId": header}
            assert header is not None
            rec = await record(h, header, wait_s=3.0)
            assert rec["response"]["status"] == "success"

    run(scenario)


def test_a_final_sequence_refuses_payload_keys_it_defines() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a")
            await sequence(
                h,
                "s",
                "/_/a",
                parameters=[{"key": "k", "value": 1}],
                annotations=[{"key": "final", "value": True}],
            )
            status, _, _ = await h.invoke("s", "blocking=true", {"k": 2})
            assert status == 400
            assert h.sent_messages() == []

    run(scenario)


def test_without_kafka_a_sequence_is_503() -> None:
    async def scenario() -> None:
        async with started(kafka=False) as h:
            await actions(h, "a")
            await sequence(h, "s", "/_/a")
            status, _, _ = await h.invoke("s", "blocking=true")
            assert status == 503

    run(scenario)


# --- the conductor alone --------------------------------------------------------------------


async def _target(h: Harness, name: str) -> Target:
    doc = await h.whisks.get(f"guest/{name}")
    assert doc is not None
    action = Action.from_doc(doc.body)
    return Target(action.path, action.name, doc.rev, action)


def _conductor(h: Harness, **extra: Any) -> Conductor:
    async def lookup(fqn: FullyQualifiedName) -> Target:
        if fqn.namespace != "guest":
            raise ComponentUnavailable(f"no {fqn}")
        return await _target(h, fqn.name)

    assert h.invocations is not None
    identity = Identity.create(SUBJECT, "guest", h.key, iterations=1000)
    return Conductor(Activator(h.invocations), h.activations, lookup, identity, "tid", **extra)


def test_a_component_that_does_not_complete_in_time_is_a_whisk_error() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a")
            await h.action("never", limits={"timeout": 100})
            await sequence(h, "s", "/_/a", "/_/never", "/_/a")
            conductor = _conductor(h, margin_s=0.05)
            seq_id = "0" * 31 + "1"
            finished = await conductor.run(await _target(h, "s"), {}, seq_id, accepted_ms=0)
            assert finished.status is ActivationStatus.WHISK_ERROR
            assert finished.record["response"]["result"] == {
                "error": "Sequence component '/guest/never' did not complete in time."
            }
            assert len(finished.record["logs"]) == 2
            stored = await record(h, seq_id)
            assert stored["response"]["status"] == "whisk internal error"

    run(scenario)


def test_a_component_that_cannot_be_queued_is_a_whisk_error() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a")
            await sequence(h, "s", "/_/a")
            h.bus.fail_sends = True
            status, body, _ = await h.invoke("s", "blocking=true")
            assert status == 500
            assert "could not be queued" in body["response"]["result"]["error"]

    run(scenario)


def test_cancel_all_stops_the_running_sequences() -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await h.action("never")
            await sequence(h, "s", "/_/never")
            background: set[asyncio.Task[Any]] = set()
            run_it = _conductor(h).run(await _target(h, "s"), {}, "0" * 32, accepted_ms=0)
            task = launch(background, run_it, "test sequence")
            await asyncio.sleep(0.05)
            assert background == {task}
            await cancel_all(background)
            assert task.cancelled()
            assert background == set()

    run(scenario)


@pytest.mark.parametrize("query", ["", "blocking=true"])
def test_the_api_key_reaches_only_components_that_ask_for_it(query: str) -> None:
    async def scenario() -> None:
        async with started(standard()) as h:
            await actions(h, "a")
            await h.action("b", annotations=[{"key": "provide-api-key", "value": True}])
            await sequence(h, "s", "/_/a", "/_/b")
            status, _, header = await h.invoke("s", query)
            assert status in (200, 202)
            assert header is not None
            await record(h, header)
            a, b = components_sent(h)
            assert a.api_key is None
            assert b.api_key == h.key.compact()

    run(scenario)
