"""Per-namespace throttles an operator sets with `wskadmin limits`, and their defaults.

They are kept in the subjects database as `<namespace>/limits`; a limit left unset falls
back to the system's default (OpenWhisk's: 60 invocations and 60 fires a minute, 30
concurrent invocations).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

from whisk_services.model._json import JsonObject
from whisk_services.model.errors import ModelError
from whisk_services.model.names import validate_namespace

ENTITY_TYPE = "limits"


@dataclass(frozen=True, slots=True)
class NamespaceLimits:
    """The throttles of one namespace; None means "the system default"."""

    invocationsPerMinute: int | None = None  # noqa: N815 -- OpenWhisk's field names
    concurrentInvocations: int | None = None  # noqa: N815
    firesPerMinute: int | None = None  # noqa: N815

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ModelError(f"'{field.name}' must be an integer.")
            if value is not None and value < 0:
                raise ModelError(f"'{field.name}' must be 0 or more.")

    @staticmethod
    def doc_id(namespace: str) -> str:
        return f"{validate_namespace(namespace)}/limits"

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    def set(self) -> JsonObject:
        """The limits that are set, by name."""
        return {
            name: getattr(self, name) for name in self.names() if getattr(self, name) is not None
        }

    def merged(self, other: NamespaceLimits) -> NamespaceLimits:
        """These limits with every limit ``other`` sets replacing ours."""
        return NamespaceLimits(**{**self.set(), **other.set()})

    def with_defaults(self, defaults: NamespaceLimits) -> JsonObject:
        return {**defaults.set(), **self.set()}

    def to_doc(self) -> JsonObject:
        return {**self.set(), "entityType": ENTITY_TYPE}

    @classmethod
    def from_doc(cls, doc: Any) -> Self:
        if not isinstance(doc, dict) or doc.get("entityType") != ENTITY_TYPE:
            raise ModelError("not a limits document")
        return cls(**{name: doc.get(name) for name in cls.names()})


SYSTEM_DEFAULTS = NamespaceLimits(
    invocationsPerMinute=60, concurrentInvocations=30, firesPerMinute=60
)
