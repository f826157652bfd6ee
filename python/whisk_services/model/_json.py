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
