"""The document store port: one database of JSON documents with optimistic concurrency.

The controller keeps subjects, entities (actions, triggers, rules, packages) and activations
in three stores of this kind. Apache CouchDB and PouchDB Server implement it
(``adapters.couchdb``); an in-memory version serves the unit tests (``adapters.memory``).

Listing goes through declared indexes: an ``IndexSpec`` names the documents it holds (every
field in ``match`` equal to its value) and the fields of its key. The last key field orders
the results (``updated`` for entities, ``start`` for activations); ``prefix`` fixes the
leading key fields and ``since``/``upto`` bound the last one, both inclusive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

JsonObject = dict[str, Any]


class DocumentStoreError(Exception):
    """The store failed or answered something unexpected (a 5xx for the API)."""


class DocumentConflict(DocumentStoreError):  # noqa: N818 -- a condition, like CouchDB's 409
    """A create found the id taken, or an update or delete named a stale revision."""


class DocumentNotFound(DocumentStoreError):  # noqa: N818
    """The document does not exist (or was deleted)."""


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document: its id, its current revision and its body (no ``_id``/``_rev``)."""

    id: str
    rev: str
    body: JsonObject


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A declared index: the documents whose fields equal ``match``, keyed by ``key``."""

    name: str
    key: tuple[str, ...]
    match: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Changes:
    """Documents changed after a point of the changes feed, and the point to resume from.

    ``last_seq`` is opaque: pass it back as it came (CouchDB 3 uses strings, PouchDB
    Server integers).
    """

    ids: tuple[str, ...]
    last_seq: Any
    revs: tuple[str, ...] = ()
    """The revision each id changed to, in the order of ``ids`` (empty for a bare point)."""

    def rev_of(self) -> dict[str, str]:
        """Each changed id with its new revision."""
        return dict(zip(self.ids, self.revs, strict=True))


class DocumentStore(Protocol):
    """One database. Ids may contain ``/`` (``guest/hello``): the adapter encodes them."""

    async def ensure(self, indexes: Sequence[IndexSpec]) -> None:
        """Create the database and the indexes if missing; idempotent, run at start."""
        ...

    async def get(self, doc_id: str) -> Document | None:
        """The document, or None when it does not exist."""
        ...

    async def put(self, doc_id: str, body: JsonObject, rev: str | None = None) -> str:
        """Create (``rev`` None) or update the document; return the new revision.

        Raises DocumentConflict when creating an existing id or updating a stale revision.
        """
        ...

    async def put_many(self, docs: Sequence[tuple[str, JsonObject]]) -> list[str | None]:
        """Create many new documents in one request; each entry is its revision or None
        when that document could not be written (its id taken)."""
        ...

    async def delete(self, doc_id: str, rev: str) -> None:
        """Delete the document at ``rev``: DocumentConflict if stale, DocumentNotFound if gone."""
        ...

    async def query(
        self,
        index: str,
        prefix: Sequence[Any],
        *,
        since: Any = None,
        upto: Any = None,
        skip: int = 0,
        limit: int | None = None,
        descending: bool = True,
    ) -> list[Document]:
        """The documents of ``index`` whose key starts with ``prefix``, ordered by the last
        key field (newest first by default), bounded by ``since``/``upto``."""
        ...

    async def count(
        self, index: str, prefix: Sequence[Any], *, since: Any = None, upto: Any = None
    ) -> int:
        """How many documents ``query`` would return without skip and limit."""
        ...

    async def changes(self, since: Any = None, *, timeout_s: float = 0.0) -> Changes:
        """Ids changed after ``since`` (None: from now, returning nothing but the point).

        With ``timeout_s`` > 0 it waits up to that long for a change (a long poll).
        """
        ...

    @property
    def requests_made(self) -> int:
        """How many requests the store has sent to its server (0 for in-memory stores)."""
        ...
