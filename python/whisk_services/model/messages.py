"""The messages the daemons exchange over Kafka, in OpenWhisk's shapes.

- ``ActivationMessage``: controller → `invoker<N>`: run this action for this user.
- ``CompletionMessage``: invoker → `completed<C>`: the activation is done (with the record,
  so a blocking caller is answered at once) and the invoker's slot is free again.
- ``PingMessage``: invoker → `health`: I am alive, with this much user memory.

Each encodes to compact JSON bytes (one write to Kafka) and decodes with validation: a
malformed message raises ModelError rather than half-parsing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Self

from whisk_services.model._json import JsonObject, as_object
from whisk_services.model.activation import parse_activation_id
from whisk_services.model.errors import ModelError
from whisk_services.model.names import FullyQualifiedName


def _decode(raw: bytes | str, what: str) -> JsonObject:
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise ModelError(f"malformed {what}: {error}") from error
    return as_object(value, what)


def _encode(value: JsonObject) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _str(body: JsonObject, key: str, what: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ModelError(f"malformed {what}: '{key}' must be a non-empty string")
    return value


def _int(body: JsonObject, key: str, what: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ModelError(f"malformed {what}: '{key}' must be an integer >= 0")
    return value


def _transid(value: Any, what: str) -> tuple[str, int]:
    """``"id"`` or OpenWhisk's ``["id", start_ms]``."""
    if isinstance(value, str) and value:
        return value, 0
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and value[0]
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
        and value[1] >= 0
    ):
        return value[0], value[1]
    raise ModelError(f"malformed {what}: 'transid' must be an id or [id, start ms]")


@dataclass(frozen=True, slots=True)
class MessageUser:
    """Who the activation runs for: subject, namespace and its uuid (never the raw key)."""

    subject: str
    namespace: str
    uuid: str

    def to_json(self) -> JsonObject:
        return {
            "subject": self.subject,
            "namespace": {"name": self.namespace, "uuid": self.uuid},
        }

    @classmethod
    def from_json(cls, value: Any) -> Self:
        body = as_object(value, "user")
        namespace = as_object(body.get("namespace"), "user.namespace")
        what = "activation message user"
        return cls(
            _str(body, "subject", what),
            _str(namespace, "name", what),
            _str(namespace, "uuid", what),
        )


@dataclass(frozen=True, slots=True)
class ActivationMessage:
    """Controller → invoker: run ``action`` at ``revision`` with ``content`` as parameters.

    ``api_key`` travels only when the action asked for it (the `provide-api-key`
    annotation); ``blocking`` says a caller waits for the result. ``accepted_ms`` is when
    the controller accepted the request (epoch ms; the record's ``waitTime`` starts there):
    it travels as OpenWhisk's transaction id does, ``"transid": [id, start]``.
    ``fresh_container`` (the controller's health test action) asks for a container of its
    own, neither warm nor prewarmed, destroyed after the run; encoded only when true.
    """

    WHAT = "activation message"

    transid: str
    action: FullyQualifiedName
    action_version: str
    revision: str
    user: MessageUser
    activation_id: str
    controller: int
    blocking: bool
    content: JsonObject = field(default_factory=dict)
    init_args: tuple[str, ...] = ()
    api_key: str | None = None
    cause: str | None = None
    accepted_ms: int = 0
    fresh_container: bool = False

    def __post_init__(self) -> None:
        parse_activation_id(self.activation_id)
        if self.cause is not None:
            parse_activation_id(self.cause)

    def to_json(self) -> JsonObject:
        body: JsonObject = {
            "transid": [self.transid, self.accepted_ms],
            "action": {**self.action.to_api(), "version": self.action_version},
            "revision": self.revision,
            "user": self.user.to_json(),
            "activationId": self.activation_id,
            "rootControllerIndex": {"asString": str(self.controller)},
            "blocking": self.blocking,
            "content": self.content,
            "initArgs": list(self.init_args),
        }
        if self.api_key is not None:
            body["user"]["authkey"] = self.api_key
        if self.cause is not None:
            body["cause"] = self.cause
        if self.fresh_container:
            body["freshContainer"] = True
        return body

    def encode(self) -> bytes:
        return _encode(self.to_json())

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        body = _decode(raw, cls.WHAT)
        action = as_object(body.get("action"), "action")
        controller = as_object(body.get("rootControllerIndex"), "rootControllerIndex")
        index = _str(controller, "asString", cls.WHAT)
        if not index.isdigit():
            raise ModelError(f"malformed {cls.WHAT}: controller index {index!r}")
        blocking = body.get("blocking")
        if not isinstance(blocking, bool):
            raise ModelError(f"malformed {cls.WHAT}: 'blocking' must be a boolean")
        init_args = body.get("initArgs", [])
        if not isinstance(init_args, list) or not all(isinstance(a, str) for a in init_args):
            raise ModelError(f"malformed {cls.WHAT}: 'initArgs' must be a list of strings")
        user = as_object(body.get("user"), "user")
        api_key = user.get("authkey")
        if api_key is not None and not isinstance(api_key, str):
            raise ModelError(f"malformed {cls.WHAT}: 'authkey' must be a string")
        cause = body.get("cause")
        fresh = body.get("freshContainer", False)
        if not isinstance(fresh, bool):
            raise ModelError(f"malformed {cls.WHAT}: 'freshContainer' must be a boolean")
        transid, accepted_ms = _transid(body.get("transid"), cls.WHAT)
        return cls(
            transid=transid,
            action=FullyQualifiedName.from_api(action),
            action_version=_str(action, "version", cls.WHAT),
            revision=_str(body, "revision", cls.WHAT),
            user=MessageUser.from_json(user),
            activation_id=_str(body, "activationId", cls.WHAT),
            controller=int(index),
            blocking=blocking,
            content=as_object(body.get("content", {}), "content"),
            init_args=tuple(init_args),
            api_key=api_key,
            cause=cause if isinstance(cause, str) else None,
            accepted_ms=accepted_ms,
            fresh_container=fresh,
        )


@dataclass(frozen=True, slots=True)
class CompletionMessage:
    """Invoker → controller: activation ``activation_id`` is done on ``invoker``.

    ``activation`` is the record in its API shape when a blocking caller waits (so the
    controller answers without reading the database); ``is_system_error`` feeds the
    controller's view of the invoker's health.
    """

    WHAT = "completion message"

    transid: str
    activation_id: str
    invoker: int
    is_system_error: bool
    activation: JsonObject | None = None

    def __post_init__(self) -> None:
        parse_activation_id(self.activation_id)

    def to_json(self) -> JsonObject:
        response: JsonObject | str = self.activation if self.activation else self.activation_id
        return {
            "transid": self.transid,
            "response": response,
            "isSystemError": self.is_system_error,
            "instance": {"instance": self.invoker},
        }

    def encode(self) -> bytes:
        return _encode(self.to_json())

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        body = _decode(raw, cls.WHAT)
        response = body.get("response")
        if isinstance(response, str):
            activation_id, activation = response, None
        else:
            activation = as_object(response, "response")
            activation_id = _str(activation, "activationId", cls.WHAT)
        system_error = body.get("isSystemError")
        if not isinstance(system_error, bool):
            raise ModelError(f"malformed {cls.WHAT}: 'isSystemError' must be a boolean")
        instance = as_object(body.get("instance"), "instance")
        return cls(
            transid=_str(body, "transid", cls.WHAT),
            activation_id=activation_id,
            invoker=_int(instance, "instance", cls.WHAT),
            is_system_error=system_error,
            activation=activation,
        )


@dataclass(frozen=True, slots=True)
class PingMessage:
    """Invoker → `health`: invoker ``instance`` is alive and offers ``user_memory_mb``."""

    WHAT = "ping message"

    instance: int
    unique_name: str
    user_memory_mb: int
    enabled: bool = True

    def to_json(self) -> JsonObject:
        return {
            "name": {
                "instance": self.instance,
                "uniqueName": self.unique_name,
                "displayName": f"invoker{self.instance}",
                "userMemory": f"{self.user_memory_mb} MB",
            },
            "isEnabled": self.enabled,
        }

    def encode(self) -> bytes:
        return _encode(self.to_json())

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        body = _decode(raw, cls.WHAT)
        name = as_object(body.get("name"), "name")
        memory = _str(name, "userMemory", cls.WHAT)
        amount, _, unit = memory.partition(" ")
        if not amount.isdigit() or unit != "MB":
            raise ModelError(f"malformed {cls.WHAT}: userMemory {memory!r} (want 'N MB')")
        enabled = body.get("isEnabled", True)
        if not isinstance(enabled, bool):
            raise ModelError(f"malformed {cls.WHAT}: 'isEnabled' must be a boolean")
        return cls(
            instance=_int(name, "instance", cls.WHAT),
            unique_name=_str(name, "uniqueName", cls.WHAT),
            user_memory_mb=int(amount),
            enabled=enabled,
        )
