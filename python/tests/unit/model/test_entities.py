"""Actions, triggers, rules and packages: PUT bodies in, GET shapes out."""

from __future__ import annotations

import re

import pytest

from whisk_services.model import ModelError
from whisk_services.model.entities import Action, Package, Rule, RuleStatus, Trigger, TriggerRule
from whisk_services.model.limits import LimitBounds
from whisk_services.model.names import EntityPath, FullyQualifiedName
from whisk_services.model.version import SemVer

GUEST = EntityPath.parse("guest")
NODE = {"kind": "nodejs:18", "code": "function main(a) { return a }"}


def test_action_create_get_shape() -> None:
    action = Action.from_api(
        {
            "exec": NODE,
            "parameters": [{"key": "k", "value": "v"}],
            "annotations": [{"key": "web-export", "value": True}],
            "namespace": "ignored",
            "name": "ignored",
            "unknownField": 1,
        },
        GUEST,
        "hello",
        updated_ms=1700000000000,
    )
    assert action.to_api() == {
        "namespace": "guest",
        "name": "hello",
        "version": "0.0.1",
        "publish": False,
        "exec": {"kind": "nodejs:18", "code": NODE["code"], "binary": False},
        "parameters": [{"key": "k", "value": "v"}],
        "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
        "annotations": [
            {"key": "web-export", "value": True},
            {"key": "exec", "value": "nodejs:18"},
            {"key": "provide-api-key", "value": False},
        ],
        "updated": 1700000000000,
    }
    assert str(action.fqn) == "/guest/hello"


def test_action_summary_has_no_code_or_parameters() -> None:
    action = Action.from_api({"exec": NODE, "parameters": [{"key": "k", "value": 1}]}, GUEST, "a")
    summary = action.summary()
    assert summary["exec"] == {"binary": False}
    assert "parameters" not in summary
    assert set(summary) == {
        "namespace",
        "name",
        "version",
        "publish",
        "annotations",
        "limits",
        "exec",
        "updated",
    }
    assert "code" not in action.to_api(include_code=False)["exec"]


@pytest.mark.parametrize("body", [None, {}])
def test_action_create_requires_exec_and_empty_body_is_object(body: object) -> None:
    with pytest.raises(ModelError, match="exec undefined"):
        Action.from_api(body, GUEST, "a")


def test_action_create_keeps_given_provide_api_key_and_version() -> None:
    action = Action.from_api(
        {
            "exec": NODE,
            "version": "1.2.3",
            "publish": True,
            "annotations": [{"key": "provide-api-key", "value": True}],
        },
        GUEST,
        "a",
    )
    assert action.version == SemVer(1, 2, 3)
    assert action.publish is True
    assert action.annotations.get("provide-api-key") is True


def test_action_update_keeps_missing_fields_and_bumps_version() -> None:
    first = Action.from_api(
        {"exec": NODE, "limits": {"timeout": 1000}, "parameters": [{"key": "p", "value": 1}]},
        GUEST,
        "a",
        updated_ms=1,
    )
    second = Action.from_api(
        {"limits": {"memory": 512}, "delAnnotations": ["provide-api-key"]},
        GUEST,
        "a",
        existing=first,
        updated_ms=2,
    )
    assert str(second.version) == "0.0.2"
    assert second.exec == first.exec
    assert second.parameters == first.parameters
    assert second.limits.to_api() == {"timeout": 1000, "memory": 512, "logs": 10, "concurrency": 1}
    assert second.annotations.to_api() == [{"key": "exec", "value": "nodejs:18"}]
    assert second.updated == 2
    third = Action.from_api(
        {"exec": {"kind": "python:default", "code": "x"}}, GUEST, "a", existing=second
    )
    assert third.annotations.get("exec") == "python:3.11"
    assert str(third.version) == "0.0.3"


def test_action_limits_are_validated_with_bounds() -> None:
    with pytest.raises(ModelError, match="concurrency 5 exceeds allowed threshold of 1"):
        Action.from_api({"exec": NODE, "limits": {"concurrency": 5}}, GUEST, "a")
    action = Action.from_api(
        {"exec": NODE, "limits": {"concurrency": 5}},
        GUEST,
        "a",
        bounds=LimitBounds(max_concurrency=500),
    )
    assert action.limits.concurrency == 5


def test_sequence_action_stores_components_as_actions_parameter() -> None:
    action = Action.from_api(
        {"exec": {"kind": "sequence", "components": ["/_/a", "/guest/utils/b"]}},
        EntityPath.parse("guest/pkg"),
        "seq",
    )
    assert action.to_api()["namespace"] == "guest/pkg"
    assert action.parameters.to_api() == [
        {"key": "_actions", "value": ["/guest/a", "/guest/utils/b"]}
    ]
    assert action.annotations.get("exec") == "sequence"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"exec": NODE, "version": "1.0"}, "'version' must be a semantic version"),
        ({"exec": NODE, "publish": "yes"}, "'publish' must be a boolean."),
        ({"exec": NODE, "delAnnotations": "exec"}, "'delAnnotations' must be an array"),
        ([], "'request body' must be a JSON object."),
    ],
)
def test_action_bad_bodies(body: object, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        Action.from_api(body, GUEST, "a")


def test_entity_names_are_validated() -> None:
    with pytest.raises(ModelError, match="illegal characters"):
        Action.from_api({"exec": NODE}, GUEST, "bad name ")


def test_trigger_round_trip_and_rules() -> None:
    trigger = Trigger.from_api(
        {"parameters": [{"key": "a", "value": 1}], "publish": True}, GUEST, "t", updated_ms=5
    )
    assert trigger.to_api() == {
        "namespace": "guest",
        "name": "t",
        "version": "0.0.1",
        "publish": True,
        "parameters": [{"key": "a", "value": 1}],
        "limits": {},
        "annotations": [],
        "updated": 5,
    }
    rule = FullyQualifiedName.parse("/guest/r")
    linked = trigger.with_rule(rule, TriggerRule(FullyQualifiedName.parse("/guest/a")))
    assert linked.to_api()["rules"] == {
        "guest/r": {"action": {"path": "guest", "name": "a"}, "status": "active"}
    }
    updated = Trigger.from_api({}, GUEST, "t", existing=linked)
    assert updated.rules == linked.rules
    assert str(updated.version) == "0.0.2"
    assert updated.publish is True
    assert "rules" not in linked.without_rule(rule).to_api()


def test_trigger_feed_annotation_must_be_a_name() -> None:
    ok = Trigger.from_api(
        {"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]}, GUEST, "t"
    )
    assert ok.annotations.get("feed") == "/whisk.system/alarms/alarm"
    with pytest.raises(ModelError, match="Feed name is not valid"):
        Trigger.from_api({"annotations": [{"key": "feed", "value": "alarm"}]}, GUEST, "t")


def test_rule_create_resolves_names_and_is_active() -> None:
    rule = Rule.from_api({"trigger": "/_/t", "action": "/_/pkg/a"}, GUEST, "r", updated_ms=9)
    assert rule.to_api() == {
        "namespace": "guest",
        "name": "r",
        "version": "0.0.1",
        "publish": False,
        "annotations": [],
        "status": "active",
        "trigger": {"path": "guest", "name": "t"},
        "action": {"path": "guest/pkg", "name": "a"},
        "updated": 9,
    }
    assert rule.to_api(RuleStatus.INACTIVE)["status"] == "inactive"


@pytest.mark.parametrize(
    "body", [{}, {"trigger": "/_/t"}, {"action": "/_/a"}, {"trigger": "t", "action": "/_/a"}]
)
def test_rule_requires_trigger_and_action(body: dict[str, str]) -> None:
    with pytest.raises(ModelError) as caught:
        Rule.from_api(body, GUEST, "r")
    assert caught.value.message == "rule requires a valid trigger and a valid action"


def test_rule_update_keeps_components() -> None:
    rule = Rule.from_api({"trigger": "/_/t", "action": "/_/a"}, GUEST, "r")
    updated = Rule.from_api({"action": "/guest/b"}, GUEST, "r", existing=rule)
    assert str(updated.trigger) == "/guest/t"
    assert str(updated.action) == "/guest/b"


@pytest.mark.parametrize(
    ("body", "status"),
    [({"status": "active"}, RuleStatus.ACTIVE), ({"status": "inactive"}, RuleStatus.INACTIVE)],
)
def test_rule_status_body(body: dict[str, str], status: RuleStatus) -> None:
    assert RuleStatus.from_api(body) is status


@pytest.mark.parametrize("body", [{}, {"status": "on"}, {"status": 1}, None])
def test_rule_status_body_rejected(body: object) -> None:
    with pytest.raises(ModelError, match="status must be 'active' or 'inactive'"):
        RuleStatus.from_api(body)


def test_package_and_binding() -> None:
    package = Package.from_api({"publish": True}, GUEST, "utils", updated_ms=3)
    assert package.to_api() == {
        "namespace": "guest",
        "name": "utils",
        "version": "0.0.1",
        "publish": True,
        "binding": {},
        "parameters": [],
        "annotations": [],
        "updated": 3,
    }
    binding = Package.from_api(
        {"binding": {"namespace": "_", "name": "utils"}}, EntityPath.parse("alice"), "mine"
    )
    api = binding.to_api()
    assert api["binding"] == {"namespace": "alice", "name": "utils"}
    assert api["annotations"] == [
        {"key": "binding", "value": {"namespace": "alice", "name": "utils"}}
    ]
    assert binding.binding is not None
    assert str(binding.binding.fqn) == "/alice/utils"


def test_package_rules() -> None:
    with pytest.raises(ModelError, match=re.escape("Package name 'default' is reserved.")):
        Package.from_api({}, GUEST, "default")
    package = Package.from_api({}, GUEST, "p")
    with pytest.raises(
        ModelError, match=re.escape("Resource is a package and cannot be converted into a binding.")
    ):
        Package.from_api({"binding": {"namespace": "x", "name": "y"}}, GUEST, "p", existing=package)
    with pytest.raises(
        ModelError, match=re.escape("Binding references a package that does not exist.")
    ):
        Package.from_api({"binding": {"namespace": "x"}}, GUEST, "b")
    assert Package.from_api({"binding": {}}, GUEST, "p", existing=package).binding is None
