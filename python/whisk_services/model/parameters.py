"""Parameters and annotations: ordered key/value lists with "later wins" merging.

The API shape is a list of `{"key": k, "value": v}` objects; a parameter may also carry
`"init": true` (exported to the action's environment at /init). A key appears at most once:
a later entry replaces an earlier one in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from whisk_services.model._json import JsonObject
from whisk_services.model.errors import ModelError


@dataclass(frozen=True, slots=True)
class Parameter:
    """One key/value pair; `value` is any JSON value."""

    key: str
    value: Any
    init: bool = False

    def to_api(self) -> JsonObject:
        """`{"key", "value"}` plus `"init": true` when set."""
        out: JsonObject = {"key": self.key, "value": self.value}
        if self.init:
            out["init"] = True
        return out


@dataclass(frozen=True, slots=True)
class Parameters:
    """An ordered set of parameters with unique keys."""

    items: tuple[Parameter, ...] = ()

    def __post_init__(self) -> None:
        keys = [p.key for p in self.items]
        if len(keys) != len(set(keys)):
            raise ModelError("Parameter keys must be unique.")

    @classmethod
    def of(cls, pairs: Iterable[Parameter]) -> Parameters:
        """Build from parameters that may repeat a key; the later one wins."""
        merged: dict[str, Parameter] = {}
        for parameter in pairs:
            merged[parameter.key] = parameter
        return cls(tuple(merged.values()))

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> Parameters:
        """Build from a plain `{key: value}` mapping."""
        return cls(tuple(Parameter(k, v) for k, v in mapping.items()))

    @classmethod
    def from_api(cls, value: Any, what: str = "parameters") -> Parameters:
        """Read a list of `{"key", "value"[, "init"]}` objects; null means empty.

        A missing `value` reads as null; extra keys in an entry are ignored.
        """
        if value is None:
            return cls()
        if not isinstance(value, list):
            raise ModelError(f"'{what}' must be an array of key/value objects.")
        entries = []
        for entry in value:
            if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
                raise ModelError(f"'{what}' must be an array of key/value objects.")
            init = entry.get("init", False)
            if not isinstance(init, bool):
                raise ModelError(f"'{what}' entry 'init' must be a boolean.")
            entries.append(Parameter(entry["key"], entry.get("value"), init))
        return cls.of(entries)

    def to_api(self) -> list[JsonObject]:
        """The list-of-objects JSON shape."""
        return [p.to_api() for p in self.items]

    def to_dict(self) -> dict[str, Any]:
        """`{key: value}`, e.g. the arguments an action receives."""
        return {p.key: p.value for p in self.items}

    def merge(self, other: Parameters) -> Parameters:
        """These parameters overridden by `other`'s (other wins on equal keys)."""
        return Parameters.of((*self.items, *other.items))

    def set(self, key: str, value: Any) -> Parameters:
        """A copy with `key` set to `value`."""
        return self.merge(Parameters((Parameter(key, value),)))

    def set_default(self, key: str, value: Any) -> Parameters:
        """A copy with `key` set to `value` only if `key` is absent."""
        return self if key in self else self.set(key, value)

    def without(self, keys: Iterable[str]) -> Parameters:
        """A copy without the given keys."""
        drop = set(keys)
        return Parameters(tuple(p for p in self.items if p.key not in drop))

    def get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default`."""
        for parameter in self.items:
            if parameter.key == key:
                return parameter.value
        return default

    def __contains__(self, key: object) -> bool:
        return any(p.key == key for p in self.items)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
