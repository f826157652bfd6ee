"""Firing a trigger through the controller: its active rules' actions get activations.

The app is the real one (routes, middleware, authentication) over in-memory document
stores and a MemoryBus, as in test_invoke.py; fired activations are non-blocking, so the
tests read the messages the bus kept instead of running an invoker.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.unit.controller.support import InMemory
from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_bus import MemoryBus
from whisk_services.controller import errors
from whisk_services.controller.app import build_app
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.firing import inactive_rule
from whisk_services.controller.invocations import Invocations
from whisk_services.controller.sequences import cancel_all
from whisk_services.model.identity import AuthKey
from whisk_services.model.messages import ActivationMessage, MessageUser
from whisk_services.model.names import FullyQualifiedName

CONTROLLER = 3
INVOKER = 1
SUBJECT = "guest-user"
CODE = {"kind": "python:3.11", "code": "def main(args):\n    return args\n"}
HEADER = "x-openwhisk-activation-id"


def basic(key: AuthKey) -> dict[str, str]:
    token = base64.b64encode(key.compact().encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Harness:
    client: TestClient[Any, Any]
    bus: MemoryBus
    whisks: MemoryDocumentStore
    activations: MemoryDocumentStore
    key: AuthKey
    other_key: AuthKey

    async def call(
        self, method: str, path: str, body: Any = None, *, other: bool = False
    ) -> tuple[int, Any]:
        response = await self.client.request(
            method,
            f"/api/v1/namespaces/{path}",
            json=body,
            headers={**basic(self.other_key if other else self.key), "X-Request-ID": "tid-fire"},
        )
        text = await response.text()
        if response.content_type != "application/json":
            return response.status, text
        return response.status, json.loads(text) if text else None

    async def put(self, path: str, body: dict[str, Any], *, other: bool = False) -> Any:
        status, answer = await self.call("PUT", path, body, other=other)
        assert status == 200, answer
        return answer

    async def action(self, name: str, **extra: Any) -> None:
        await self.put(f"_/actions/{name}", {"exec": CODE, **extra})

    async def trigger(self, name: str, **params: Any) -> None:
        parameters = [{"key": k, "value": v} for k, v in params.items()]
        await self.put(f"_/triggers/{name}", {"parameters": parameters})

    async def rule(self, name: str, trigger: str, action: str) -> None:
        await self.put(f"_/rules/{name}", {"trigger": f"/_/{trigger}", "action": action})

    async def set_status(self, rule: str, status: str) -> None:
        answer = await self.call("POST", f"_/rules/{rule}", {"status": status})
        assert answer[0] == 200, answer

    async def fire(self, trigger: str, payload: Any = None) -> tuple[int, Any, str | None]:
        response = await self.client.post(
            f"/api/v1/namespaces/_/triggers/{trigger}",
            json=payload,
            headers={**basic(self.key), "X-Request-ID": "tid-fire"},
        )
        text = await response.text()
        return response.status, json.loads(text) if text else None, response.headers.get(HEADER)

    async def record(self, activation_id: str) -> Any:
        status, body = await self.call("GET", f"_/activations/{activation_id}")
        assert status == 200, body
        return body

    async def recorded(self) -> int:
        status, body = await self.call("GET", "_/activations?count=true")
        assert status == 200, body
        count: int = body["activations"]
        return count

    def messages(self) -> dict[str, ActivationMessage]:
        """The activation messages sent, by action path."""
        sent = [ActivationMessage.decode(v) for t, v in self.bus.sent if t.startswith("invoker")]
        return {m.action.as_path(): m for m in sent}


@contextlib.asynccontextmanager
async def started(*, kafka: bool = True) -> AsyncIterator[Harness]:
    stores = await InMemory.open()
    bus, activations = stores.bus, stores.activations
    key = await stores.identity(SUBJECT)
    other_key = await stores.identity("other-user", "other")
    invocations = None
    if kafka:
        invocations = await Invocations.open(bus, activations, Balancer((INVOKER,)), CONTROLLER)
    services = stores.services(invocations)
    try:
        async with TestClient(TestServer(build_app(services))) as client:
            yield Harness(client, bus, stores.whisks, activations, key, other_key)
    finally:
        await cancel_all(services.background)
        if invocations is not None:
            await invocations.close()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def sent_line(rule: str, action: str, activation_id: str) -> str:
    line = {
        "statusCode": 0,
        "success": True,
        "activationId": activation_id,
        "rule": rule,
        "action": action,
    }
    return json.dumps(line, separators=(",", ":"))


def failed_line(status: int, error: str, rule: str, action: str) -> str:
    line = {"statusCode": status, "success": False, "error": error, "rule": rule, "action": action}
    return json.dumps(line, separators=(",", ":"))


# --- no active rule -------------------------------------------------------------------------


def test_a_trigger_without_active_rules_is_204_and_records_nothing() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.trigger("t")
            assert (await h.fire("t", {"a": 1}))[:2] == (204, None)
            await h.action("a")
            await h.rule("r", "t", "/_/a")
            await h.set_status("r", "inactive")
            assert (await h.fire("t"))[:2] == (204, None)
            assert h.messages() == {}
            assert await h.recorded() == 0

    run(scenario)


# --- one and two rules ----------------------------------------------------------------------


def test_one_rule_sends_a_non_blocking_activation_with_merged_parameters() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action(
                "a", parameters=[{"key": "x", "value": "action"}, {"key": "y", "value": "action"}]
            )
            await h.trigger("t", y="trigger", z="trigger")
            await h.rule("r", "t", "/_/a")
            status, body, header = await h.fire("t", {"z": "payload", "w": 1})
            assert status == 202, body
            assert set(body) == {"activationId"}
            assert header == body["activationId"]
            [(path, message)] = h.messages().items()
            assert path == "guest/a"
            assert message.content == {"x": "action", "y": "trigger", "z": "payload", "w": 1}
            assert message.blocking is False
            assert message.cause is None
            assert message.transid == "tid-fire"
            assert message.user == MessageUser(SUBJECT, "guest", h.key.uuid)
            assert message.controller == CONTROLLER
            assert message.activation_id != body["activationId"]

            record = await h.record(body["activationId"])
            assert record["name"] == "t"
            assert record["namespace"] == "guest"
            assert record["subject"] == SUBJECT
            assert "end" not in record
            assert "duration" not in record
            assert record["response"]["success"] is True
            assert record["response"]["result"] == {"z": "payload", "w": 1}
            assert record["logs"] == [sent_line("guest/r", "guest/a", message.activation_id)]
            assert await h.recorded() == 1

    run(scenario)


def test_two_rules_each_get_an_activation_and_a_disabled_one_is_skipped() -> None:
    async def scenario() -> None:
        async with started() as h:
            for name in ("a", "b", "c"):
                await h.action(name, parameters=[{"key": "who", "value": name}])
            await h.trigger("t", p=1)
            await h.rule("ra", "t", "/_/a")
            await h.rule("rb", "t", "/guest/b")
            await h.rule("rc", "t", "/_/c")
            await h.set_status("rc", "inactive")
            status, body, _ = await h.fire("t", {"q": 2})
            assert status == 202, body
            sent = h.messages()
            assert set(sent) == {"guest/a", "guest/b"}
            assert sent["guest/a"].content == {"who": "a", "p": 1, "q": 2}
            assert sent["guest/b"].content == {"who": "b", "p": 1, "q": 2}
            assert sent["guest/a"].activation_id != sent["guest/b"].activation_id
            record = await h.record(body["activationId"])
            assert record["logs"] == [
                sent_line("guest/ra", "guest/a", sent["guest/a"].activation_id),
                sent_line("guest/rb", "guest/b", sent["guest/b"].activation_id),
                failed_line(1, inactive_rule("guest/rc", "guest/c"), "guest/rc", "guest/c"),
            ]

            # Enabling and disabling take effect on the next fire.
            h.bus.sent.clear()
            await h.set_status("rc", "active")
            await h.set_status("ra", "inactive")
            status, body, _ = await h.fire("t")
            assert status == 202, body
            assert set(h.messages()) == {"guest/b", "guest/c"}
            assert h.messages()["guest/c"].content == {"who": "c", "p": 1}

    run(scenario)


def test_a_rule_whose_action_is_missing_fails_alone() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action("a")
            await h.action("gone")
            await h.trigger("t")
            await h.rule("r1", "t", "/_/gone")
            await h.rule("r2", "t", "/_/a")
            assert (await h.call("DELETE", "_/actions/gone"))[0] == 200
            status, body, _ = await h.fire("t", {"k": "v"})
            assert status == 202, body
            [(path, message)] = h.messages().items()
            assert path == "guest/a"
            record = await h.record(body["activationId"])
            assert record["logs"] == [
                failed_line(1, errors.NOT_FOUND, "guest/r1", "guest/gone"),
                sent_line("guest/r2", "guest/a", message.activation_id),
            ]
            assert record["response"]["result"] == {"k": "v"}

    run(scenario)


def test_a_sequence_rule_starts_the_sequence() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action("a")
            await h.put("_/actions/chain", {"exec": {"kind": "sequence", "components": ["/_/a"]}})
            await h.trigger("t", **{"from": "trigger"})
            await h.rule("r", "t", "/_/chain")
            status, body, _ = await h.fire("t", {"k": "v"})
            assert status == 202, body
            for _ in range(100):  # the sequence runs in the background
                if "guest/a" in h.messages():
                    break
                await asyncio.sleep(0.01)
            component = h.messages()["guest/a"]
            assert component.content["k"] == "v"
            assert component.content["from"] == "trigger"
            assert component.cause is not None
            record = await h.record(body["activationId"])
            assert record["logs"] == [sent_line("guest/r", "guest/chain", component.cause)]

    run(scenario)


def test_actions_in_bindings_and_published_packages_of_others() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.put("_/packages/pkg", {})
            await h.action("pkg/echo", parameters=[{"key": "src", "value": "pkg"}])
            await h.put("_/packages/bind", {"binding": {"namespace": "guest", "name": "pkg"}})
            await h.put("_/packages/pub", {"publish": True}, other=True)
            await h.put("_/actions/pub/act", {"exec": CODE}, other=True)
            await h.trigger("t")
            await h.rule("rb", "t", "/_/bind/echo")
            await h.rule("ro", "t", "/other/pub/act")
            status, body, _ = await h.fire("t", {"n": 1})
            assert status == 202, body
            sent = h.messages()
            assert set(sent) == {"guest/pkg/echo", "other/pub/act"}
            assert sent["guest/pkg/echo"].content == {"src": "pkg", "n": 1}
            assert sent["other/pub/act"].action == FullyQualifiedName.parse("/other/pub/act")
            assert sent["other/pub/act"].user.namespace == "guest"

            # Once the other namespace unpublishes its package, its rule fails.
            h.bus.sent.clear()
            await h.put("_/packages/pub?overwrite=true", {"publish": False}, other=True)
            status, body, _ = await h.fire("t")
            assert status == 202, body
            assert set(h.messages()) == {"guest/pkg/echo"}
            record = await h.record(body["activationId"])
            assert record["logs"][1] == failed_line(
                1, errors.not_authorized_for("other/pub"), "guest/ro", "other/pub/act"
            )

    run(scenario)


# --- refusals -------------------------------------------------------------------------------


def test_without_invocations_a_fire_with_active_rules_is_503() -> None:
    async def scenario() -> None:
        async with started(kafka=False) as h:
            await h.action("a")
            await h.trigger("t")
            assert (await h.fire("t"))[:2] == (204, None)
            await h.rule("r", "t", "/_/a")
            status, body, _ = await h.fire("t")
            assert (status, body) == (503, {"error": errors.NO_INVOKERS, "code": "tid-fire"})
            assert await h.recorded() == 0

    run(scenario)


def test_a_queue_that_refuses_every_activation_is_503_and_records_nothing() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action("a")
            await h.trigger("t")
            await h.rule("r", "t", "/_/a")
            h.bus.fail_sends = True
            status, body, _ = await h.fire("t")
            assert (status, body) == (503, {"error": errors.QUEUE_UNAVAILABLE, "code": "tid-fire"})
            assert await h.recorded() == 0

    run(scenario)


def test_bad_bodies_and_missing_triggers() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.trigger("t")
            status, body, _ = await h.fire("t", [1, 2])
            assert (status, body["error"]) == (400, errors.NOT_JSON_OBJECT)
            status, body, _ = await h.fire("t", {"big": "x" * (1024 * 1024)})
            assert status == 413, body
            status, body, _ = await h.fire("nope")
            assert (status, body["error"]) == (404, errors.NOT_FOUND)
            status, body = await h.call("POST", "other/triggers/t")
            assert status == 403, body

    run(scenario)
