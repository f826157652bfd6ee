"""Per-namespace throttles (429), counted across all controllers.

The decisions are tested on ``Throttles`` with an injected clock (no sleeps); the exchange
between controllers on one MemoryBus; the wiring through the real app over in-memory
stores and bus, with test_invoke's fake invoker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.unit.controller.support import InMemory
from tests.unit.controller.test_invoke import (
    CONTROLLER,
    INVOKER,
    SUBJECT,
    Answer,
    FakeInvoker,
    Harness,
    answering,
    no_polls,
    run,
    silent,
)
from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_bus import MemoryBus
from whisk_services.controller import errors
from whisk_services.controller.app import build_app
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.changes import ChangeFollower
from whisk_services.controller.errors import ApiError
from whisk_services.controller.invocations import Invocations
from whisk_services.controller.throttles import (
    STALE_IN_FLIGHT_S,
    TOPIC,
    ThrottleExchange,
    ThrottleReport,
    Throttles,
    epoch_minute,
)
from whisk_services.model.activation import ActivationResponse, new_activation_id
from whisk_services.model.errors import ModelError
from whisk_services.model.identity import AuthKey, Identity
from whisk_services.model.messages import ActivationMessage, MessageUser
from whisk_services.model.names import EntityPath, FullyQualifiedName
from whisk_services.model.namespace_limits import NamespaceLimits
from whisk_services.ports.databases import SUBJECTS_INDEXES
from whisk_services.ports.documents import Changes
from whisk_services.ports.messaging import TopicSpec

START = 1_700_000_040.0  # the first second of an epoch minute


class Clock:
    """A settable clock."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def identity_of(namespace: str = "guest") -> Identity:
    return Identity.create(f"{namespace}-user", namespace, AuthKey.generate(), iterations=1000)


GUEST = identity_of("guest")
OTHER = identity_of("other")


def message_for(identity: Identity = GUEST) -> ActivationMessage:
    return ActivationMessage(
        transid="tid",
        action=FullyQualifiedName(EntityPath((identity.namespace,)), "a"),
        action_version="0.0.1",
        revision="1-a",
        user=MessageUser(identity.subject, identity.namespace, identity.uuid),
        activation_id=new_activation_id(),
        controller=CONTROLLER,
        blocking=False,
    )


async def subjects_with(**limits: NamespaceLimits) -> MemoryDocumentStore:
    subjects = MemoryDocumentStore("subjects")
    await subjects.ensure(SUBJECTS_INDEXES)
    for namespace, value in limits.items():
        await subjects.put(NamespaceLimits.doc_id(namespace), value.to_doc())
    return subjects


async def throttles_with(
    clock: Clock | None = None,
    defaults: NamespaceLimits | None = None,
    controller: int = CONTROLLER,
    **limits: NamespaceLimits,
) -> Throttles:
    return Throttles(
        controller,
        await subjects_with(**limits),
        defaults=defaults or NamespaceLimits(),
        clock=clock or Clock(),
    )


async def refused(check: Awaitable[None]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await check
    assert caught.value.status == 429
    return caught.value


def test_the_message_wording_is_openwhisk_s() -> None:
    assert errors.too_many_requests(61, 60) == (
        "Too many requests in the last minute (count: 61, allowed: 60)."
    )
    assert errors.too_many_concurrent_requests(30, 30) == (
        "Too many concurrent requests in flight (count: 30, allowed: 30)."
    )


# --- per minute -----------------------------------------------------------------------------


def test_the_61st_invoke_of_a_minute_is_429_and_the_count_resets_at_the_next_minute() -> None:
    async def scenario() -> None:
        clock = Clock()
        throttles = await throttles_with(clock)
        for _ in range(60):
            await throttles.check_invoke(GUEST)
        clock.now = START + 59.9
        error = await refused(throttles.check_invoke(GUEST))
        assert error.message == "Too many requests in the last minute (count: 60, allowed: 60)."
        # A refused request is not counted; another namespace has its own count.
        assert throttles.invocations("guest") == 60
        await throttles.check_invoke(OTHER)
        clock.now = START + 60.0
        assert throttles.invocations("guest") == 0
        await throttles.check_invoke(GUEST)
        assert throttles.invocations("guest") == 1

    run(scenario)


def test_fires_have_their_own_count_per_minute() -> None:
    async def scenario() -> None:
        clock = Clock()
        throttles = await throttles_with(clock, guest=NamespaceLimits(firesPerMinute=3))
        for _ in range(3):
            await throttles.check_fire(GUEST)
        error = await refused(throttles.check_fire(GUEST))
        assert error.message == errors.too_many_requests(3, 3)
        await throttles.check_invoke(GUEST)  # invokes are counted apart
        clock.now = START + 61
        await throttles.check_fire(GUEST)

    run(scenario)


# --- in flight ------------------------------------------------------------------------------


def test_the_31st_concurrent_invoke_is_429_and_a_completion_frees_a_slot() -> None:
    async def scenario() -> None:
        throttles = await throttles_with(guest=NamespaceLimits(invocationsPerMinute=1000))
        sent = [message_for() for _ in range(30)]
        for message in sent:
            await throttles.check_invoke(GUEST)
            throttles.activation_sent(message)
        assert throttles.in_flight("guest") == 30
        error = await refused(throttles.check_invoke(GUEST))
        assert error.message == "Too many concurrent requests in flight (count: 30, allowed: 30)."
        assert throttles.invocations("guest") == 30  # the refused one is not counted
        throttles.activation_done(sent[0].activation_id)
        throttles.activation_done(sent[0].activation_id)  # a duplicate changes nothing
        throttles.activation_done(new_activation_id())  # nor does an unknown id
        assert throttles.in_flight("guest") == 29
        await throttles.check_invoke(GUEST)

    run(scenario)


def test_an_activation_whose_completion_never_comes_is_freed_by_the_ack_timeout() -> None:
    async def scenario() -> None:
        bus, store = MemoryBus(), MemoryDocumentStore("activations")
        await bus.ensure_topics([TopicSpec("invoker0", 1000), TopicSpec("completed0", 1000)])
        throttles = await throttles_with(Clock(), guest=NamespaceLimits(concurrentInvocations=1))
        invocations = Invocations(
            bus.producer(), store, Balancer((0,)), 0, ack_grace_s=0.2, tracker=throttles
        )
        invocations.acks.start()
        await invocations.send(message_for(), memory_mb=256, timeout_ms=100)
        assert throttles.in_flight("guest") == 1
        await refused(throttles.check_invoke(GUEST))
        await until(lambda: throttles.in_flight("guest") == 0)  # no completion ever comes
        await throttles.check_invoke(GUEST)
        await invocations.close()

    run(scenario)


# --- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "check", "message"),
    [
        (NamespaceLimits(invocationsPerMinute=0), "invoke", errors.too_many_requests(0, 0)),
        (
            NamespaceLimits(concurrentInvocations=0),
            "invoke",
            errors.too_many_concurrent_requests(0, 0),
        ),
        (NamespaceLimits(firesPerMinute=0), "fire", errors.too_many_requests(0, 0)),
    ],
)
def test_a_limit_of_0_blocks_everything(limits: NamespaceLimits, check: str, message: str) -> None:
    async def scenario() -> None:
        throttles = await throttles_with(guest=limits)
        call = throttles.check_invoke if check == "invoke" else throttles.check_fire
        error = await refused(call(GUEST))
        assert error.message == message

    run(scenario)


def test_a_namespace_s_own_limits_win_over_the_defaults_and_changes_are_seen() -> None:
    async def scenario() -> None:
        defaults = NamespaceLimits(invocationsPerMinute=2, firesPerMinute=5)
        throttles = await throttles_with(
            defaults=defaults, guest=NamespaceLimits(invocationsPerMinute=3)
        )
        guest = await throttles.limits("guest")
        assert (guest.invocationsPerMinute, guest.firesPerMinute) == (3, 5)
        assert guest.concurrentInvocations == 30  # unset everywhere: the system's default
        for _ in range(3):
            await throttles.check_invoke(GUEST)
        await refused(throttles.check_invoke(GUEST))
        for _ in range(2):
            await throttles.check_invoke(OTHER)
        error = await refused(throttles.check_invoke(OTHER))
        assert error.message == errors.too_many_requests(2, 2)
        # `wskadmin limits set` raises the limit: the changes feed tells the throttles.
        subjects = throttles._subjects
        doc = await subjects.get("guest/limits")
        assert doc is not None
        new_rev = await subjects.put(
            "guest/limits", NamespaceLimits(invocationsPerMinute=4).to_doc(), doc.rev
        )
        await refused(throttles.check_invoke(GUEST))  # still the cached limit
        throttles.limits_changed(Changes(("guest-user", "guest/limits"), 9, ("1-x", new_rev)))
        await throttles.check_invoke(GUEST)
        await refused(throttles.check_invoke(GUEST))
        throttles.limits_changed(None)  # a failed feed forgets everything
        assert (await throttles.limits("guest")).invocationsPerMinute == 4

    run(scenario)


def test_the_changes_feed_reaches_the_limits() -> None:
    async def scenario() -> None:
        subjects = await subjects_with(guest=NamespaceLimits(invocationsPerMinute=1))
        follower = ChangeFollower(subjects, poll_s=0.05)
        throttles = Throttles(CONTROLLER, subjects, follower=follower, clock=Clock())
        await follower.start()
        try:
            await throttles.check_invoke(GUEST)
            await refused(throttles.check_invoke(GUEST))
            doc = await subjects.get("guest/limits")
            assert doc is not None
            await subjects.put(
                "guest/limits", NamespaceLimits(invocationsPerMinute=2).to_doc(), doc.rev
            )
            await until(lambda: "guest" not in throttles._limits)
            await throttles.check_invoke(GUEST)
        finally:
            await follower.stop()

    run(scenario)


# --- the report -----------------------------------------------------------------------------


def test_a_report_round_trips_and_malformed_ones_are_refused() -> None:
    report = ThrottleReport(12, epoch_minute(START), 5, {"guest": 3}, {"guest": 1}, {"a": 2})
    assert ThrottleReport.decode(report.encode()) == report
    assert ThrottleReport.decode(ThrottleReport(1, 2, 3).encode()) == ThrottleReport(1, 2, 3)
    for raw in (
        b"not json",
        b"[]",
        b'{"controller":1,"minute":2}',
        b'{"controller":"1","minute":2,"sentMs":3}',
        b'{"controller":1,"minute":2,"sentMs":3,"invocations":{"g":-1}}',
        b'{"controller":1,"minute":2,"sentMs":3,"fires":{"g":true}}',
        b'{"controller":1,"minute":2,"sentMs":3,"inFlight":[]}',
    ):
        with pytest.raises(ModelError):
            ThrottleReport.decode(raw)


def test_stale_reports_add_nothing() -> None:
    async def scenario() -> None:
        clock = Clock(START + 30)
        throttles = await throttles_with(clock, controller=1)
        minute = epoch_minute(clock.now)
        throttles.absorb(ThrottleReport(2, minute, 2, {"guest": 7}, {}, {"guest": 4}))
        throttles.absorb(ThrottleReport(2, minute, 1, {"guest": 99}))  # older: ignored
        throttles.absorb(ThrottleReport(1, minute, 3, {"guest": 50}))  # our own: ignored
        throttles.absorb(ThrottleReport(3, minute - 1, 3, {"guest": 50}))  # last minute's
        assert (throttles.invocations("guest"), throttles.in_flight("guest")) == (7, 4)
        clock.now += STALE_IN_FLIGHT_S + 1
        assert (throttles.invocations("guest"), throttles.in_flight("guest")) == (7, 0)
        clock.now = START + 60
        assert throttles.invocations("guest") == 0

    run(scenario)


# --- two controllers on one bus -------------------------------------------------------------


async def until(condition: Callable[[], bool], wait_s: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def test_two_controllers_share_their_counts() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        clock = Clock()
        subjects = await subjects_with()
        a = Throttles(1, subjects, clock=clock)
        b = Throttles(2, subjects, clock=clock)
        # A long interval: the test publishes itself, so the burst is split deterministically.
        exchanges = [
            await ThrottleExchange.open(bus, t, interval_s=3600, heartbeat_s=3600) for t in (a, b)
        ]
        try:
            assert bus.topics[TOPIC] == []
            for _ in range(40):
                await a.check_invoke(GUEST)
            for _ in range(25):
                await b.check_invoke(GUEST)  # b has not heard of a's 40 yet: the overshoot
            a.activation_sent(message_for())
            assert [await e.publish() for e in exchanges] == [True, True]
            assert [await e.publish() for e in exchanges] == [False, False]  # nothing changed
            await until(lambda: a.invocations("guest") == b.invocations("guest") == 65)
            for throttles in (a, b):
                error = await refused(throttles.check_invoke(GUEST))
                assert error.message == errors.too_many_requests(65, 60)
            assert b.in_flight("guest") == 1
            assert a.invocations("other") == 0
        finally:
            for exchange in exchanges:
                await exchange.close()

    run(scenario)


def test_the_exchange_publishes_by_itself_and_creates_its_topic() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subjects = await subjects_with()
        a, b = Throttles(1, subjects), Throttles(2, subjects)
        exchanges = [await ThrottleExchange.open(bus, t, interval_s=0.01) for t in (a, b)]
        try:
            assert TOPIC in bus.topics
            await a.check_fire(GUEST)
            await until(lambda: b.fires("guest") == 1)
            b.activation_sent(message_for())
            await until(lambda: a.in_flight("guest") == 1)
            await bus.producer().send(TOPIC, b"garbage")  # ignored
            await b.check_fire(GUEST)
            await until(lambda: a.fires("guest") == 2)
        finally:
            for exchange in exchanges:
                await exchange.close()

    run(scenario)


# --- wired into the app ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def app(
    answer: Answer = silent, **limits: NamespaceLimits
) -> AsyncIterator[tuple[Harness, Throttles]]:
    stores = await InMemory.open(subjects=await subjects_with(**limits))
    bus, activations = stores.bus, stores.activations
    key = await stores.identity(SUBJECT)
    throttles = Throttles(CONTROLLER, stores.subjects, follower=stores.subjects_feed)
    invocations = await Invocations.open(
        bus, activations, Balancer((INVOKER,)), CONTROLLER, poll_offsets=no_polls, tracker=throttles
    )
    services = stores.services(invocations, throttles)
    invoker = FakeInvoker(bus, activations, answer)
    task = asyncio.create_task(invoker.run())
    try:
        async with TestClient(TestServer(build_app(services))) as client:
            harness = Harness(client, bus, stores.whisks, activations, invocations, invoker, key)
            yield harness, throttles
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await invocations.close()


def test_the_invoke_route_answers_429_with_the_message_and_the_transaction_id() -> None:
    async def scenario() -> None:
        limits = NamespaceLimits(invocationsPerMinute=2)
        async with app(guest=limits) as (h, throttles):
            await h.action("echo")
            assert (await h.invoke("echo"))[0] == 202
            assert (await h.invoke("echo", "blocking=true&timeout=10"))[0] == 202
            status, body, _ = await h.invoke("echo", headers={"X-Request-ID": "tid-429"})
            assert status == 429
            assert body == {
                "error": "Too many requests in the last minute (count: 2, allowed: 2).",
                "code": "tid-429",
            }
            assert len(h.sent_messages()) == 2  # the refused invoke sent nothing
            assert throttles.in_flight("guest") == 2

    run(scenario)


def test_a_completion_frees_a_concurrent_slot_through_the_invoke_path() -> None:
    async def scenario() -> None:
        async with app(guest=NamespaceLimits(concurrentInvocations=1)) as (h, throttles):
            await h.action("echo")
            assert (await h.invoke("echo"))[0] == 202
            status, body, _ = await h.invoke("echo")
            assert (status, body["error"]) == (429, errors.too_many_concurrent_requests(1, 1))
            [message] = h.invoker.messages
            await h.invoker.complete(message, None)
            await until(lambda: throttles.in_flight("guest") == 0)
            assert (await h.invoke("echo"))[0] == 202

    run(scenario)


def test_a_sequence_counts_as_one_invocation() -> None:
    async def scenario() -> None:
        done = answering(ActivationResponse.success({"ok": True}))
        async with app(done, guest=NamespaceLimits(invocationsPerMinute=2)) as (h, throttles):
            await h.action("a")
            await h.action("b")
            await h.put("actions/s", {"exec": {"kind": "sequence", "components": ["/_/a", "/_/b"]}})
            status, body, _ = await h.invoke("s", "blocking=true")
            assert status == 200, body
            assert len(h.sent_messages()) == 2  # two components sent...
            assert throttles.invocations("guest") == 1  # ...one invocation counted
            await until(lambda: throttles.in_flight("guest") == 0)
            assert (await h.invoke("s"))[0] == 202
            status, body, _ = await h.invoke("s")
            assert (status, body["error"]) == (429, errors.too_many_requests(2, 2))

    run(scenario)


def test_a_fire_is_throttled_by_fires_per_minute_even_without_active_rules() -> None:
    async def scenario() -> None:
        limits = NamespaceLimits(firesPerMinute=2, invocationsPerMinute=0)
        async with app(guest=limits) as (h, throttles):
            await h.put("triggers/t", {})

            async def fire() -> tuple[int, Any]:
                response = await h.client.post(
                    "/api/v1/namespaces/_/triggers/t", json={}, headers=h.auth
                )
                return response.status, await response.read()

            assert [(await fire())[0] for _ in range(2)] == [204, 204]
            status, raw = await fire()
            assert status == 429
            assert b"Too many requests in the last minute (count: 2, allowed: 2)." in raw
            assert throttles.fires("guest") == 2
            missing = await h.client.post(
                "/api/v1/namespaces/_/triggers/nope", json={}, headers=h.auth
            )
            assert missing.status == 404  # a missing trigger is not a fire

    run(scenario)


def test_a_web_action_is_charged_to_its_owner() -> None:
    async def scenario() -> None:
        async with app(guest=NamespaceLimits(invocationsPerMinute=0)) as (h, _throttles):
            body = {
                "exec": {"kind": "nodejs:18", "code": "function main() { return {}; }"},
                "annotations": [{"key": "web-export", "value": True}],
            }
            await h.put("actions/page", body)
            answer = await h.client.get("/api/v1/web/guest/default/page.json")
            assert answer.status == 429
            assert (await answer.json())["error"] == (
                "Too many requests in the last minute (count: 0, allowed: 0)."
            )
            assert h.sent_messages() == []

    run(scenario)
