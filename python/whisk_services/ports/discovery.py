"""The discovery port: services registered with their health, and a key-value store, as
Consul offers them (DESIGN.md §1: the single source of truth for which invokers exist).

A registration may carry one check: a TTL the owner must refresh (``pass_ttl``) or an HTTP
URL the agent polls. ``instances`` answers the instances of a service with their health and
an index; passed back, the index makes the call wait (up to ``wait_s``) until something
changed: a blocking query, not a polling loop. The key-value store works the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Health = Literal["passing", "warning", "critical"]


class DiscoveryError(Exception):
    """The registry could not be reached or refused a request."""


@dataclass(frozen=True, slots=True)
class Check:
    """A health check: ``ttl_s`` (the owner reports) or ``http`` (the agent polls every
    ``interval_s``); a service critical for ``deregister_after_s`` is removed."""

    ttl_s: float | None = None
    http: str | None = None
    interval_s: float = 10.0
    deregister_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """A service instance to register with the local agent."""

    id: str
    name: str
    address: str
    port: int
    tags: tuple[str, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)
    check: Check | None = None


@dataclass(frozen=True, slots=True)
class Instance:
    """A registered instance and its health (the worst of its checks)."""

    id: str
    name: str
    address: str
    port: int
    tags: tuple[str, ...]
    meta: Mapping[str, str]
    health: Health
    output: str = ""


class ServiceRegistry(Protocol):
    """Registers this host's services and reads everyone's."""

    async def register(self, registration: Registration) -> None:
        """Register (or re-register) a service instance with the local agent."""
        ...

    async def deregister(self, service_id: str) -> None:
        """Remove a service instance from the local agent (absent: a no-op)."""
        ...

    async def pass_ttl(self, service_id: str, note: str = "") -> None:
        """Report the TTL check of ``service_id`` as passing."""
        ...

    async def fail_ttl(self, service_id: str, note: str = "") -> None:
        """Report the TTL check of ``service_id`` as critical."""
        ...

    async def local_services(self) -> dict[str, Registration]:
        """The service instances registered with the local agent, by id."""
        ...

    async def instances(
        self, name: str, *, index: int | None = None, wait_s: float = 60.0
    ) -> tuple[list[Instance], int]:
        """Every instance of ``name`` with its health, and the index to wait on next."""
        ...

    async def kv_get(self, key: str) -> bytes | None:
        """The value at ``key``, or None."""
        ...

    async def kv_put(self, key: str, value: bytes) -> None:
        """Set ``key``."""
        ...

    async def kv_delete(self, key: str) -> None:
        """Remove ``key`` (absent: a no-op)."""
        ...

    async def kv_tree(
        self, prefix: str, *, index: int | None = None, wait_s: float = 60.0
    ) -> tuple[dict[str, bytes], int]:
        """Every key under ``prefix`` with its value, and the index to wait on next."""
        ...


def worst(statuses: Sequence[str]) -> Health:
    """The health of an instance from its checks' statuses (none: passing)."""
    if "critical" in statuses:
        return "critical"
    if "warning" in statuses:
        return "warning"
    return "passing"
