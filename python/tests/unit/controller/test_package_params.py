"""Actions in packages and bindings inherit parameters, in OpenWhisk's order: the package's,
overridden by the binding's, overridden by the action's own, overridden by the payload.

The app is the real one over in-memory stores and a MemoryBus (test_fire's harness: a
``guest`` and an ``other`` namespace); invokes are non-blocking, so the tests read the
activation messages the bus kept. The sequence test uses test_sequences' fake invoker.
"""

from __future__ import annotations

from typing import Any

from tests.unit.controller import test_invoke, test_sequences
from tests.unit.controller.test_fire import CODE, Harness, run, started
from whisk_services.controller import errors
from whisk_services.model.activation import ActivationResponse
from whisk_services.model.names import FullyQualifiedName


def params(**values: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in values.items()]


# Each layer sets the keys from its own letter on: what a later layer sets wins.
PACKAGE = params(p="package", b="package", a="package", x="package")
BINDING = params(b="binding", a="binding", x="binding")
ACTION = params(a="action", x="action")
PAYLOAD = {"x": "payload"}
THROUGH_PACKAGE = {"p": "package", "b": "package", "a": "action", "x": "payload"}
THROUGH_BINDING = {"p": "package", "b": "binding", "a": "action", "x": "payload"}


async def invoke(h: Harness, name: str, payload: Any = None, *, other: bool = False) -> Any:
    status, body = await h.call("POST", f"_/actions/{name}", payload, other=other)
    assert status == 202, body
    return body


async def own_package_and_binding(h: Harness) -> None:
    await h.put("_/packages/pkg", {"parameters": PACKAGE})
    await h.action("pkg/echo", parameters=ACTION)
    await h.put(
        "_/packages/bind",
        {"binding": {"namespace": "_", "name": "pkg"}, "parameters": BINDING},
    )


def as_dict(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {p["key"]: p["value"] for p in parameters}


# --- invoke ---------------------------------------------------------------------------------


def test_an_action_in_an_own_package_gets_the_package_parameters_under_its_own() -> None:
    async def scenario() -> None:
        async with started() as h:
            await own_package_and_binding(h)
            await invoke(h, "pkg/echo", PAYLOAD)
            message = h.messages()["guest/pkg/echo"]
            assert message.content == THROUGH_PACKAGE
            assert message.init_args == ()

    run(scenario)


def test_through_an_own_binding_the_binding_overrides_the_package() -> None:
    async def scenario() -> None:
        async with started() as h:
            await own_package_and_binding(h)
            await invoke(h, "bind/echo", PAYLOAD)
            message = h.messages()["guest/pkg/echo"]
            assert message.action == FullyQualifiedName.parse("/guest/pkg/echo")
            assert message.content == THROUGH_BINDING

    run(scenario)


def test_a_binding_to_a_public_package_of_another_namespace() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.put("_/packages/pub", {"publish": True, "parameters": PACKAGE}, other=True)
            await h.put("_/actions/pub/echo", {"exec": CODE, "parameters": ACTION}, other=True)
            await h.put(
                "_/packages/mine",
                {"binding": {"namespace": "other", "name": "pub"}, "parameters": BINDING},
            )
            await invoke(h, "mine/echo", PAYLOAD)
            message = h.messages()["other/pub/echo"]
            assert message.content == THROUGH_BINDING
            assert message.user.namespace == "guest"
            # Invoked directly, the public package's action gets its package's parameters.
            h.bus.sent.clear()
            status, body = await h.call("POST", "other/actions/pub/echo", PAYLOAD)
            assert status == 202, body
            assert h.messages()["other/pub/echo"].content == THROUGH_PACKAGE

    run(scenario)


def test_an_action_outside_packages_gets_its_own_parameters_only() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.put("_/packages/pkg", {"parameters": PACKAGE})
            await h.action("plain", parameters=ACTION)
            await invoke(h, "plain", PAYLOAD)
            assert h.messages()["guest/plain"].content == {"a": "action", "x": "payload"}

    run(scenario)


def test_a_fire_whose_rule_targets_a_package_action() -> None:
    async def scenario() -> None:
        async with started() as h:
            await own_package_and_binding(h)
            await h.trigger("t", x="trigger", t="trigger")
            await h.rule("r", "t", "/_/bind/echo")
            status, body, _ = await h.fire("t", {"f": "fire"})
            assert status == 202, body
            message = h.messages()["guest/pkg/echo"]
            # The trigger's parameters and the fire's payload are the payload.
            assert message.content == {
                "p": "package",
                "b": "binding",
                "a": "action",
                "x": "trigger",
                "t": "trigger",
                "f": "fire",
            }

    run(scenario)


# --- GET ------------------------------------------------------------------------------------


def test_get_shows_the_merged_parameters_and_the_rest_as_stored() -> None:
    async def scenario() -> None:
        async with started() as h:
            await own_package_and_binding(h)
            status, direct = await h.call("GET", "_/actions/pkg/echo")
            assert status == 200, direct
            assert as_dict(direct["parameters"]) == {
                "p": "package",
                "b": "package",
                "a": "action",
                "x": "action",
            }
            status, bound = await h.call("GET", "_/actions/bind/echo")
            assert status == 200, bound
            assert as_dict(bound["parameters"]) == {
                "p": "package",
                "b": "binding",
                "a": "action",
                "x": "action",
            }
            # Everything else is the stored action's, which keeps its own parameters.
            for shown in (direct, bound):
                assert shown["namespace"] == "guest/pkg"
                assert shown["exec"] == {**CODE, "binary": False}
                assert {k: v for k, v in shown.items() if k != "parameters"} == {
                    k: v for k, v in direct.items() if k != "parameters"
                }
            stored = await h.whisks.get("guest/pkg/echo")
            assert stored is not None
            assert stored.body["parameters"] == ACTION

    run(scenario)


def test_get_of_an_action_outside_packages_is_unchanged() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.action("plain", parameters=ACTION)
            status, body = await h.call("GET", "_/actions/plain?code=false")
            assert status == 200, body
            assert body["parameters"] == ACTION
            assert "code" not in body["exec"]

    run(scenario)


# --- rights ---------------------------------------------------------------------------------


def test_a_private_package_of_another_namespace_stays_forbidden() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.put("_/packages/priv", {"parameters": PACKAGE}, other=True)
            await h.put("_/actions/priv/echo", {"exec": CODE}, other=True)
            forbidden = errors.not_authorized_for("other/priv")
            for method in ("GET", "POST"):
                status, body = await h.call(method, "other/actions/priv/echo", {})
                assert status == 403, body
                assert body["error"] == forbidden
            # A missing action of one's own package is 404.
            await h.put("_/packages/pkg", {"parameters": PACKAGE})
            status, body = await h.call("POST", "_/actions/pkg/nothing", {})
            assert status == 404, body
            assert h.messages() == {}

    run(scenario)


# --- final ----------------------------------------------------------------------------------


def test_final_protects_the_inherited_parameters_too() -> None:
    async def scenario() -> None:
        async with started() as h:
            await h.put("_/packages/pkg", {"parameters": params(p="package", gap=None)})
            await h.action(
                "pkg/sealed",
                parameters=params(a="action"),
                annotations=[{"key": "final", "value": True}],
            )
            await h.put(
                "_/packages/bind",
                {"binding": {"namespace": "_", "name": "pkg"}, "parameters": params(b="binding")},
            )
            for name, key in (("pkg/sealed", "p"), ("bind/sealed", "b"), ("bind/sealed", "a")):
                status, body = await h.call("POST", f"_/actions/{name}", {key: "payload"})
                assert status == 400, (name, key, body)
                assert body["error"] == errors.RESERVED_PARAMETERS
            assert h.messages() == {}
            # Keys no layer defines (or leaves null) remain the caller's.
            await invoke(h, "bind/sealed", {"gap": 1, "new": 2})
            assert h.messages()["guest/pkg/sealed"].content == {
                "p": "package",
                "gap": 1,
                "b": "binding",
                "a": "action",
                "new": 2,
            }

    run(scenario)


# --- sequences ------------------------------------------------------------------------------


def echo(content: dict[str, Any]) -> ActivationResponse:
    return ActivationResponse.success({"seen": content})


def test_a_sequence_in_a_package_and_components_in_theirs() -> None:
    async def scenario() -> None:
        answers = test_sequences.Components({"first": echo, "second": echo})
        async with test_invoke.started(answers) as h:
            await h.put("packages/seqs", {"parameters": params(s="seqs", x="seqs")})
            await h.put("packages/tools", {"parameters": params(t="tools", x="tools")})
            await h.action("tools/first", parameters=params(own="first"))
            await h.action("second")
            await h.put(
                "actions/seqs/chain",
                {
                    "exec": {"kind": "sequence", "components": ["/_/tools/first", "/_/second"]},
                    "parameters": params(c="chain"),
                },
            )
            status, body, _ = await h.invoke("seqs/chain", "blocking=true", {"p": "payload"})
            assert status == 200, body
            first, second = [m for _, m in h.sent_messages()]
            # The sequence's merged arguments are the first component's payload, over its
            # own parameters and its own package's.
            sequence_args = {"s": "seqs", "x": "seqs", "c": "chain", "p": "payload"}
            assert first.content == {"t": "tools", "own": "first", **sequence_args}
            # A component outside packages gets the previous result alone.
            assert second.content == {"seen": first.content}

    run(scenario)
