"""Stored documents: `to_doc`/`from_doc` round trips, document shapes and ids."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from whisk_services.model import ModelError
from whisk_services.model.activation import Activation, ActivationResponse
from whisk_services.model.entities import (
    Action,
    Package,
    Rule,
    RuleStatus,
    Trigger,
    TriggerRule,
)
from whisk_services.model.identity import AuthKey, Identity, hash_key
from whisk_services.model.limits import LimitBounds
from whisk_services.model.names import EntityPath, FullyQualifiedName
from whisk_services.model.parameters import Parameter, Parameters
from whisk_services.model.version import SemVer

GUEST = EntityPath.parse("guest")
UTILS = EntityPath.parse("guest/utils")
T0 = 1700000000000
AID = "0123456789abcdef0123456789abcdef"
CAUSE = "fedcba9876543210fedcba9876543210"
NODE = {"kind": "nodejs:18", "code": "function main(a) { return a }"}
ZIP = base64.b64encode(b"PK\x03\x04 a zip file").decode()
WIDE = LimitBounds(max_concurrency=500)

Entity = Action | Trigger | Rule | Package


def _fqn(text: str) -> FullyQualifiedName:
    return FullyQualifiedName.parse(text)


def _json(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as the store gives it back: through JSON text."""
    loaded: dict[str, Any] = json.loads(json.dumps(doc))
    return loaded


def _actions() -> list[Action]:
    plain = Action.from_api(
        {
            "exec": NODE,
            "version": "1.2.3",
            "publish": True,
            "parameters": [{"key": "k", "value": {"x": [1, None]}}, {"key": "s", "init": True}],
            "annotations": [{"key": "web-export", "value": True}],
            "limits": {"timeout": 1000, "memory": 128, "logs": 0},
        },
        GUEST,
        "hello",
        updated_ms=T0,
    )
    return [
        plain,
        Action.from_api(
            {"delAnnotations": ["web-export"]}, GUEST, "again", existing=plain, updated_ms=T0 + 1
        ),
        Action.from_api(
            {"exec": {"kind": "python:default", "code": ZIP, "main": "entry"}}, UTILS, "zipped"
        ),
        Action.from_api({"exec": {"kind": "blackbox", "image": "me/img", "code": ZIP}}, GUEST, "b"),
        Action.from_api({"exec": {"kind": "blackbox", "image": "me/img"}}, GUEST, "box"),
        Action.from_api(
            {"exec": {"kind": "sequence", "components": ["/_/a", "/guest/utils/b", "other/c"]}},
            UTILS,
            "seq",
        ),
        Action.from_api({"exec": NODE, "limits": {"concurrency": 500}}, GUEST, "wide", bounds=WIDE),
    ]


def _triggers() -> list[Trigger]:
    feed = Trigger.from_api(
        {"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]},
        GUEST,
        "tick",
        updated_ms=T0,
    )
    linked = feed.with_rule(_fqn("/guest/r1"), TriggerRule(_fqn("/guest/hello"))).with_rule(
        _fqn("/guest/r2"), TriggerRule(_fqn("/guest/utils/echo"), RuleStatus.INACTIVE)
    )
    return [feed, linked, Trigger(GUEST, "bare", parameters=Parameters.from_dict({"p": 1}))]


def _rules() -> list[Rule]:
    active = Rule.from_api({"trigger": "/_/tick", "action": "/guest/utils/echo"}, GUEST, "r1")
    return [active, Rule(GUEST, "r2", _fqn("/guest/t"), _fqn("/guest/a"), RuleStatus.INACTIVE)]


def _packages() -> list[Package]:
    plain = Package.from_api(
        {"publish": True, "parameters": [{"key": "p", "value": "v"}]}, GUEST, "utils"
    )
    bound = Package.from_api(
        {"binding": {"namespace": "whisk.system", "name": "utils"}}, GUEST, "mine", updated_ms=T0
    )
    return [plain, bound]


@pytest.mark.parametrize("entity", [*_actions(), *_triggers(), *_rules(), *_packages()], ids=repr)
def test_entity_round_trip(entity: Entity) -> None:
    doc = _json(entity.to_doc())
    assert type(entity).from_doc(doc) == entity
    assert doc["entityType"] == type(entity).ENTITY_TYPE
    assert doc["namespace"] == str(entity.path)
    assert doc["name"] == entity.name
    assert doc["updated"] == entity.updated


def test_round_trip_keeps_what_from_api_would_change() -> None:
    """A stored action comes back as stored: no annotations added, wide limits kept."""
    action = Action(
        UTILS,
        "raw",
        _actions()[2].exec,
        SemVer(3, 0, 7),
        parameters=Parameters((Parameter("s", "x", init=True),)),
        limits=_actions()[-1].limits,
        updated=T0,
    )
    assert action.exec.binary
    assert Action.from_doc(_json(action.to_doc())) == action
    assert Action.from_doc(_json(action.to_doc())).annotations == Parameters()


def test_action_doc_shape() -> None:
    action = Action.from_api(
        {"exec": NODE, "parameters": [{"key": "k", "value": "v"}]},
        UTILS,
        "echo",
        updated_ms=T0,
    )
    assert action.doc_id() == "guest/utils/echo"
    assert action.to_doc() == {
        "entityType": "action",
        "namespace": "guest/utils",
        "name": "echo",
        "version": "0.0.1",
        "publish": False,
        "exec": {"kind": "nodejs:18", "code": NODE["code"], "binary": False},
        "parameters": [{"key": "k", "value": "v"}],
        "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
        "annotations": [
            {"key": "exec", "value": "nodejs:18"},
            {"key": "provide-api-key", "value": False},
        ],
        "updated": T0,
    }


def test_entity_doc_ids_and_indexed_fields() -> None:
    assert _actions()[0].doc_id() == "guest/hello"
    assert _triggers()[1].doc_id() == "guest/tick"
    assert _rules()[0].doc_id() == "guest/r1"
    package = _packages()[0]
    assert package.doc_id() == "guest/utils"
    assert package.to_doc()["publish"] is True
    assert _rules()[1].to_doc()["status"] == "inactive"
    assert _triggers()[1].to_doc()["rules"]["guest/r2"] == {
        "action": {"path": "guest/utils", "name": "echo"},
        "status": "inactive",
    }


def _activations() -> list[Activation]:
    run = Activation(
        "guest",
        "hello",
        "guest-subject",
        AID,
        T0,
        T0 + 42,
        ActivationResponse.application_error({"error": "nope"}),
        SemVer(0, 0, 3),
        publish=True,
        cause=CAUSE,
        logs=("2023-11-14T22:13:20.000Z       stdout: hi", "x"),
        annotations=Parameters.from_dict({"path": "guest/hello", "limits": {"memory": 256}}),
    )
    trigger = Activation(
        "guest", "tick", "guest-subject", CAUSE, T0, 0, ActivationResponse.success({"a": 1})
    )
    nothing = Activation(
        "guest", "n", "guest-subject", AID, T0, T0, ActivationResponse(run.response.status)
    )
    whisk = Activation(
        "guest", "w", "guest-subject", AID, T0, T0 + 1, ActivationResponse.whisk_error("boom")
    )
    return [run, trigger, nothing, whisk]


@pytest.mark.parametrize("activation", _activations(), ids=repr)
def test_activation_round_trip(activation: Activation) -> None:
    doc = _json(activation.to_doc())
    assert Activation.from_doc(doc) == activation
    assert doc["start"] == activation.start
    assert doc["entityType"] == "activation"


def test_activation_doc_shape() -> None:
    activation = _activations()[0]
    assert activation.doc_id() == f"guest/{AID}"
    assert activation.to_doc() == {
        "entityType": "activation",
        "namespace": "guest",
        "name": "hello",
        "subject": "guest-subject",
        "activationId": AID,
        "version": "0.0.3",
        "publish": True,
        "start": T0,
        "end": T0 + 42,
        "duration": 42,
        "cause": CAUSE,
        "response": {"statusCode": 1, "result": {"error": "nope"}, "size": 16},
        "logs": ["2023-11-14T22:13:20.000Z       stdout: hi", "x"],
        "annotations": [
            {"key": "path", "value": "guest/hello"},
            {"key": "limits", "value": {"memory": 256}},
        ],
    }


def test_trigger_activation_doc_keeps_end_zero() -> None:
    doc = _activations()[1].to_doc()
    assert doc["end"] == 0
    assert "duration" not in doc


def test_identity_round_trip_and_doc() -> None:
    key = AuthKey.generate()
    identity = Identity.create("guest-subject", "guest", key, iterations=1000)
    doc = _json(identity.to_doc())
    assert Identity.from_doc(doc) == identity
    assert Identity.from_doc(doc).authenticates(key)
    assert identity.doc_id() == "guest-subject"
    assert doc == {
        "entityType": "subject",
        "subject": "guest-subject",
        "namespace": "guest",
        "uuid": key.uuid,
        "key": identity.key_hash,
        "blocked": False,
    }
    assert key.key not in json.dumps(doc)


def test_blocked_subject_is_refused() -> None:
    identity = Identity("guest-subject", "guest", str(AuthKey.generate().uuid), hash_key("k"))
    with pytest.raises(ModelError, match="blocked"):
        Identity.from_doc({**identity.to_doc(), "blocked": True})


DOCS: list[tuple[type[Any], dict[str, Any]]] = [
    (Action, _actions()[0].to_doc()),
    (Trigger, _triggers()[0].to_doc()),
    (Rule, _rules()[0].to_doc()),
    (Package, _packages()[0].to_doc()),
    (Activation, _activations()[0].to_doc()),
    (Identity, Identity("guest-subject", "guest", "u", "h").to_doc()),
]


@pytest.mark.parametrize(("kind", "doc"), DOCS, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("other", ["action", "trigger", "rule", "package", "activation", None])
def test_from_doc_rejects_other_entity_types(
    kind: type[Any], doc: dict[str, Any], other: str | None
) -> None:
    wrong = {key: value for key, value in doc.items() if key != "entityType"}
    if other is not None:
        wrong["entityType"] = other
    if other == kind.ENTITY_TYPE:
        assert kind.from_doc(wrong) is not None
        return
    with pytest.raises(ModelError, match="entityType"):
        kind.from_doc(wrong)


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        (Action, {"exec": {"kind": "cobol", "code": "x"}}),
        (Action, {"limits": {"memory": "big"}}),
        (Action, {"namespace": 7}),
        (Trigger, {"rules": {"guest/r": {"action": "hello", "status": "active"}}}),
        (Rule, {"status": "paused"}),
        (Package, {"binding": {"namespace": "ns"}}),
        (Activation, {"response": {"result": 1}}),
        (Activation, {"logs": [1]}),
        (Identity, {"key": None}),
    ],
)
def test_malformed_documents(kind: type[Any], change: dict[str, Any]) -> None:
    doc = next(d for k, d in DOCS if k is kind)
    with pytest.raises(ModelError):
        kind.from_doc({**doc, **change})
