"""The Kafka messages between the daemons: exact shapes, round trips, and refusals."""

from __future__ import annotations

import json

import pytest

from whisk_services.model.errors import ModelError
from whisk_services.model.messages import (
    ActivationMessage,
    CompletionMessage,
    MessageUser,
    PingMessage,
)
from whisk_services.model.names import FullyQualifiedName

ACTIVATION_ID = "8004746e06f147b99c1e8b0be875ec64"


def activation_message(**changes: object) -> ActivationMessage:
    fields: dict[str, object] = {
        "transid": "tid-1",
        "action": FullyQualifiedName.parse("/guest/utils/echo"),
        "action_version": "0.0.2",
        "revision": "2-abc",
        "user": MessageUser("guest-user", "guest", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"),
        "activation_id": ACTIVATION_ID,
        "controller": 0,
        "blocking": True,
        "content": {"name": "World"},
        "accepted_ms": 1700000000123,
    }
    fields.update(changes)
    return ActivationMessage(**fields)  # type: ignore[arg-type]


def test_activation_message_shape_is_openwhisks() -> None:
    body = json.loads(activation_message().encode())
    assert body == {
        "transid": ["tid-1", 1700000000123],
        "action": {"path": "guest/utils", "name": "echo", "version": "0.0.2"},
        "revision": "2-abc",
        "user": {
            "subject": "guest-user",
            "namespace": {"name": "guest", "uuid": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
        },
        "activationId": ACTIVATION_ID,
        "rootControllerIndex": {"asString": "0"},
        "blocking": True,
        "content": {"name": "World"},
        "initArgs": [],
    }


def test_activation_message_accepts_a_plain_transaction_id() -> None:
    body = json.loads(activation_message().encode())
    body["transid"] = "tid-9"
    decoded = ActivationMessage.decode(json.dumps(body))
    assert (decoded.transid, decoded.accepted_ms) == ("tid-9", 0)


@pytest.mark.parametrize("transid", [["t"], ["t", -1], ["", 5], [1, 2], ["t", True], 7, None])
def test_activation_message_refuses_malformed_transaction_ids(transid: object) -> None:
    body = json.loads(activation_message().encode())
    body["transid"] = transid
    with pytest.raises(ModelError, match="transid"):
        ActivationMessage.decode(json.dumps(body))


@pytest.mark.parametrize(
    "message",
    [
        activation_message(),
        activation_message(blocking=False, content={}, controller=3),
        activation_message(api_key="uuid:key", cause="1" * 32, init_args=("db",)),
    ],
)
def test_activation_message_round_trip(message: ActivationMessage) -> None:
    assert ActivationMessage.decode(message.encode()) == message


def test_the_api_key_travels_only_when_given() -> None:
    assert "authkey" not in json.loads(activation_message().encode())["user"]
    with_key = json.loads(activation_message(api_key="u:k").encode())
    assert with_key["user"]["authkey"] == "u:k"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b"{}",
        json.dumps({**activation_message().to_json(), "blocking": "yes"}).encode(),
        json.dumps({**activation_message().to_json(), "activationId": "short"}).encode(),
        json.dumps(
            {**activation_message().to_json(), "rootControllerIndex": {"asString": "x"}}
        ).encode(),
        json.dumps({**activation_message().to_json(), "initArgs": [1]}).encode(),
    ],
)
def test_malformed_activation_messages_are_refused(raw: bytes) -> None:
    with pytest.raises(ModelError):
        ActivationMessage.decode(raw)


def test_completion_message_carries_the_record_or_just_the_id() -> None:
    record = {"activationId": ACTIVATION_ID, "response": {"status": "success"}}
    full = CompletionMessage(
        "tid", ACTIVATION_ID, invoker=1, is_system_error=False, activation=record
    )
    assert json.loads(full.encode()) == {
        "transid": "tid",
        "response": record,
        "isSystemError": False,
        "instance": {"instance": 1},
    }
    assert CompletionMessage.decode(full.encode()) == full
    bare = CompletionMessage("tid", ACTIVATION_ID, invoker=0, is_system_error=True)
    assert json.loads(bare.encode())["response"] == ACTIVATION_ID
    assert CompletionMessage.decode(bare.encode()) == bare


@pytest.mark.parametrize(
    "body",
    [
        {
            "transid": "t",
            "response": ACTIVATION_ID,
            "isSystemError": 0,
            "instance": {"instance": 0},
        },
        {"transid": "t", "response": "nope", "isSystemError": False, "instance": {"instance": 0}},
        {"transid": "t", "response": ACTIVATION_ID, "isSystemError": False, "instance": {}},
    ],
)
def test_malformed_completions_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ModelError):
        CompletionMessage.decode(json.dumps(body))


def test_ping_round_trip_and_refusals() -> None:
    ping = PingMessage(2, "invoker-host-2", 2048)
    assert json.loads(ping.encode())["name"]["userMemory"] == "2048 MB"
    assert PingMessage.decode(ping.encode()) == ping
    disabled = PingMessage(0, "h", 512, enabled=False)
    assert PingMessage.decode(disabled.encode()).enabled is False
    bad = ping.to_json()
    bad["name"]["userMemory"] = "lots"
    with pytest.raises(ModelError):
        PingMessage.decode(json.dumps(bad))


def test_the_fresh_container_flag_travels_only_when_set() -> None:
    assert "freshContainer" not in json.loads(activation_message().encode())
    fresh = activation_message(fresh_container=True)
    assert json.loads(fresh.encode())["freshContainer"] is True
    assert ActivationMessage.decode(fresh.encode()) == fresh
    assert not ActivationMessage.decode(activation_message().encode()).fresh_container
    body = {**json.loads(fresh.encode()), "freshContainer": "yes"}
    with pytest.raises(ModelError, match="freshContainer"):
        ActivationMessage.decode(json.dumps(body))
