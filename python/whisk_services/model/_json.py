"""Small readers for decoded JSON request bodies that raise `ModelError` on a wrong type.

Private to the model package: entity modules use these so that every type error reads the same.
"""

from __future__ import annotations

from typing import Any, TypeVar

from whisk_services.model.errors import ModelError

JsonObject = dict[str, Any]
T = TypeVar("T")


def as_object(value: Any, what: str) -> JsonObject:
    """Return `value` as a JSON object, or raise naming `what`."""
    if not isinstance(value, dict):
        raise ModelError(f"'{what}' must be a JSON object.")
    return value


def _optional(body: JsonObject, key: str, kind: type[T], noun: str) -> T | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise ModelError(f"'{key}' must be {noun}.")
    return value


def opt_bool(body: JsonObject, key: str) -> bool | None:
    """Return the boolean at `key`, None when absent or null."""
    return _optional(body, key, bool, "a boolean")


def opt_str(body: JsonObject, key: str) -> str | None:
    """Return the string at `key`, None when absent or null."""
    return _optional(body, key, str, "a string")


def as_int(value: Any, what: str) -> int:
    """Return `value` as an integer (JSON numbers with no fraction), rejecting booleans."""
    if isinstance(value, bool):
        raise ModelError(f"'{what}' must be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ModelError(f"'{what}' must be an integer.")


def req_str(body: JsonObject, key: str) -> str:
    """Return the string at `key`, which must be present."""
    value = opt_str(body, key)
    if value is None:
        raise ModelError(f"'{key}' must be a string.")
    return value


def as_str_list(value: Any, what: str) -> list[str]:
    """Return `value` as a JSON array of strings, or raise naming `what`."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ModelError(f"'{what}' must be an array of strings.")
    return value


ENTITY_TYPE_FIELD = "entityType"


def as_document(value: Any, entity_type: str) -> JsonObject:
    """Return `value` as a stored document whose `entityType` is `entity_type`, else raise."""
    doc = as_object(value, "document")
    if doc.get(ENTITY_TYPE_FIELD) != entity_type:
        raise ModelError(f"The document is not of entityType '{entity_type}'.")
    return doc
