"""Entity names, namespace paths and fully qualified names.

An entity name is 1 to 256 ASCII word characters, `@`, space, `.`, `&` or `-`, starting with a
word character and not ending with a space (OpenWhisk's `EntityName.REGEX`). A path is one or
more names joined by `/` (`guest`, `guest/utils`); a fully qualified name is a path plus a name,
rendered `/guest/utils/echo`. The namespace `_` stands for the caller's own namespace and is
replaced by `resolve()`.

Parsing follows the controller, not the `wsk` CLI: empty segments are dropped, so `ns/name` and
`/ns/name` are the same name; a bare `name` needs a default namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from whisk_services.model.errors import (
    ENTITY_NAME_ILLEGAL,
    MALFORMED_FQN,
    NAMESPACE_ILLEGAL,
    ModelError,
)

ENTITY_NAME_MAX_LENGTH = 256
DEFAULT_NAMESPACE = "_"
PATH_SEPARATOR = "/"
# A fully qualified name is namespace, optional package, name: at most three segments.
MAX_FQN_SEGMENTS = 3

_NAME_RE = re.compile(rf"\A(\w|\w[\w@ .&-]{{0,{ENTITY_NAME_MAX_LENGTH - 2}}}[\w@.&-])\Z", re.ASCII)


def is_valid_entity_name(name: str) -> bool:
    """True iff `name` matches OpenWhisk's entity-name rule (length included)."""
    return bool(_NAME_RE.match(name))


def validate_entity_name(name: Any) -> str:
    """Return `name` if it is a valid entity name, else raise the 400 message."""
    if not isinstance(name, str) or not is_valid_entity_name(name):
        raise ModelError(ENTITY_NAME_ILLEGAL)
    return name


def validate_namespace(namespace: Any) -> str:
    """Return `namespace` if it is a valid namespace segment, else raise the 400 message."""
    if not isinstance(namespace, str) or not is_valid_entity_name(namespace):
        raise ModelError(NAMESPACE_ILLEGAL)
    return namespace


@dataclass(frozen=True, slots=True)
class EntityPath:
    """A namespace path: the namespace, optionally followed by a package (`guest/utils`)."""

    segments: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.segments:
            raise ModelError(NAMESPACE_ILLEGAL)
        validate_namespace(self.segments[0])
        for segment in self.segments[1:]:
            validate_entity_name(segment)

    @classmethod
    def parse(cls, text: str) -> EntityPath:
        """Parse `guest`, `/guest` or `guest/utils`; empty segments are ignored."""
        return cls(tuple(part for part in text.split(PATH_SEPARATOR) if part))

    @property
    def namespace(self) -> str:
        """The root segment."""
        return self.segments[0]

    @property
    def package(self) -> str | None:
        """The package segment, or None for a path that is just a namespace."""
        return self.segments[1] if len(self.segments) > 1 else None

    @property
    def is_default(self) -> bool:
        """True iff the root is `_`, the caller's namespace."""
        return self.namespace == DEFAULT_NAMESPACE

    def resolve(self, namespace: str) -> EntityPath:
        """Replace a `_` root with `namespace`; any other path is returned unchanged."""
        if not self.is_default:
            return self
        return EntityPath((validate_namespace(namespace), *self.segments[1:]))

    def add(self, name: str) -> EntityPath:
        """This path with one more segment."""
        return EntityPath((*self.segments, name))

    def __str__(self) -> str:
        return PATH_SEPARATOR.join(self.segments)


@dataclass(frozen=True, slots=True)
class FullyQualifiedName:
    """A path plus an entity name: `/guest/hello` or `/guest/utils/echo`."""

    path: EntityPath
    name: str

    def __post_init__(self) -> None:
        validate_entity_name(self.name)
        if len(self.path.segments) >= MAX_FQN_SEGMENTS:
            raise ModelError(MALFORMED_FQN)

    @classmethod
    def parse(cls, text: Any, default_namespace: str | None = None) -> FullyQualifiedName:
        """Parse `/ns/[pkg/]name` or `ns/[pkg/]name`; a bare `name` takes `default_namespace`.

        Without a default namespace a bare name is malformed, as it is for the controller.
        """
        if not isinstance(text, str):
            raise ModelError(MALFORMED_FQN)
        parts = [part for part in text.split(PATH_SEPARATOR) if part]
        if len(parts) == 1 and default_namespace is not None:
            parts.insert(0, default_namespace)
        if len(parts) < 2 or len(parts) > MAX_FQN_SEGMENTS:
            raise ModelError(MALFORMED_FQN)
        return cls(EntityPath(tuple(parts[:-1])), parts[-1])

    @classmethod
    def from_api(cls, value: Any) -> FullyQualifiedName:
        """Read the object form `{"path": "ns[/pkg]", "name": "n"}` used in rules and bindings."""
        if not isinstance(value, dict):
            raise ModelError(MALFORMED_FQN)
        path, name = value.get("path"), value.get("name")
        if not isinstance(path, str) or not isinstance(name, str):
            raise ModelError(MALFORMED_FQN)
        return cls(EntityPath.parse(path), name)

    def to_api(self) -> dict[str, str]:
        """The object form `{"path": ..., "name": ...}`."""
        return {"path": str(self.path), "name": self.name}

    @property
    def namespace(self) -> str:
        """The root namespace."""
        return self.path.namespace

    @property
    def package(self) -> str | None:
        """The package, if the entity lives in one."""
        return self.path.package

    def resolve(self, namespace: str) -> FullyQualifiedName:
        """Replace a `_` namespace with `namespace`."""
        return FullyQualifiedName(self.path.resolve(namespace), self.name)

    def as_path(self) -> str:
        """Rendering without the leading slash, as in annotations: `guest/utils/echo`."""
        return f"{self.path}{PATH_SEPARATOR}{self.name}"

    def __str__(self) -> str:
        return f"{PATH_SEPARATOR}{self.as_path()}"
