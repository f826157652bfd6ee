"""Qualified entity names: `/ns/pkg/name`, `/ns/name`, `pkg/name`, `name`."""

from __future__ import annotations

from dataclasses import dataclass

from whisk_services.cli.wsk.client import WhiskError

MAX_SEGMENTS = 3


@dataclass(frozen=True)
class QualifiedName:
    """A namespace plus an entity (`name` or `pkg/name`)."""

    namespace: str
    entity: str

    @property
    def fqn(self) -> str:
        return f"/{self.namespace}/{self.entity}"

    @property
    def name(self) -> str:
        """The last segment: the entity's own name without its package."""
        return self.entity.rsplit("/", 1)[-1]


def parse_name(name: str, default_namespace: str) -> QualifiedName:
    """Resolve a name; a bare one belongs to the configured namespace (or `_`)."""
    invalid = WhiskError(
        f"'{name}' is not a valid qualified name: A valid qualified name must be specified."
    )
    if name.startswith("/"):
        parts = name[1:].split("/")
        if not 2 <= len(parts) <= MAX_SEGMENTS or not all(parts):
            raise invalid
        return QualifiedName(parts[0], "/".join(parts[1:]))
    parts = name.split("/")
    if not 1 <= len(parts) <= MAX_SEGMENTS - 1 or not all(parts):
        raise invalid
    return QualifiedName(default_namespace, name)


def parse_namespace(name: str) -> str:
    """A namespace argument, with or without its leading slash."""
    stripped = name.strip("/")
    if not stripped or "/" in stripped:
        raise WhiskError(f"'{name}' is not a valid namespace")
    return stripped
