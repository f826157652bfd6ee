"""The document store port in memory, with CouchDB's semantics, for unit tests.

Revisions are ``N-<32 hex>`` with the generation ``N`` counting every write (deletions
included, as CouchDB does); a deleted document can be created again without a revision.
Bodies are copied through JSON on the way in and out, as a server would. Indexes are
evaluated by the same rules and ordered by the same collation as the CouchDB views the
``couchdb`` adapter declares, and the changes feed numbers writes with integer sequences.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from whisk_services.adapters._index import (
    check_body,
    check_id,
    check_specs,
    collation_key,
    emit_key,
    key_range,
    matches,
)
from whisk_services.ports.documents import (
    Changes,
    Document,
    DocumentConflict,
    DocumentNotFound,
    DocumentStoreError,
    IndexSpec,
    JsonObject,
)


@dataclass(slots=True)
class _Entry:
    rev: str
    generation: int
    body: JsonObject | None  # None: deleted
    seq: int


def _copy(body: JsonObject) -> JsonObject:
    copied: JsonObject = json.loads(json.dumps(body))
    return copied


class MemoryDocumentStore:
    """One database in memory. Its long polls need the event loop they first ran on."""

    def __init__(self, database: str = "memory") -> None:
        self.database = database
        self._docs: dict[str, _Entry] = {}
        self._indexes: dict[str, IndexSpec] = {}
        self._seq = 0
        self._changed: asyncio.Condition | None = None

    @property
    def requests_made(self) -> int:
        return 0

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _write(self, doc_id: str, body: JsonObject | None, previous: _Entry | None) -> str:
        generation = previous.generation + 1 if previous else 1
        self._seq += 1
        rev = f"{generation}-{uuid.uuid4().hex}"
        self._docs[doc_id] = _Entry(rev, generation, body, self._seq)
        condition = self._condition()
        async with condition:
            condition.notify_all()
        return rev

    async def ensure(self, indexes: Sequence[IndexSpec]) -> None:
        check_specs(indexes)
        self._indexes = {spec.name: spec for spec in indexes}

    async def get(self, doc_id: str) -> Document | None:
        check_id(doc_id)
        entry = self._docs.get(doc_id)
        if entry is None or entry.body is None:
            return None
        return Document(doc_id, entry.rev, _copy(entry.body))

    async def put(self, doc_id: str, body: JsonObject, rev: str | None = None) -> str:
        check_id(doc_id)
        check_body(body)
        copied = _copy(body)
        entry = self._docs.get(doc_id)
        current = entry.rev if entry is not None and entry.body is not None else None
        if rev != current:  # creating a live id, or updating a stale or gone revision
            raise DocumentConflict(f"{doc_id} in {self.database}: conflict")
        return await self._write(doc_id, copied, entry)

    async def put_many(self, docs: Sequence[tuple[str, JsonObject]]) -> list[str | None]:
        for doc_id, body in docs:
            check_id(doc_id)
            check_body(body)
        revs: list[str | None] = []
        for doc_id, body in docs:
            entry = self._docs.get(doc_id)
            if entry is not None and entry.body is not None:
                revs.append(None)
            else:
                revs.append(await self._write(doc_id, _copy(body), entry))
        return revs

    async def delete(self, doc_id: str, rev: str) -> None:
        check_id(doc_id)
        entry = self._docs.get(doc_id)
        if entry is None or entry.body is None:
            raise DocumentNotFound(f"{doc_id} in {self.database}")
        if entry.rev != rev:
            raise DocumentConflict(f"{doc_id} in {self.database}: revision {rev} is stale")
        await self._write(doc_id, None, entry)

    def _select(
        self, index: str, prefix: Sequence[Any], since: Any, upto: Any, *, descending: bool
    ) -> list[tuple[str, _Entry]]:
        spec = self._indexes.get(index)
        if spec is None:
            raise DocumentStoreError(f"{self.database} has no index {index!r}")
        start, end = key_range(spec, prefix, since, upto, descending=descending)
        low, high = (end, start) if descending else (start, end)
        low_key, high_key = collation_key(low), collation_key(high)
        rows = []
        for doc_id, entry in self._docs.items():
            if entry.body is None or not matches(spec, entry.body):
                continue
            key = collation_key(emit_key(spec, entry.body))
            if low_key <= key <= high_key:
                rows.append((key, collation_key(doc_id), doc_id, entry))
        rows.sort(key=lambda row: (row[0], row[1]), reverse=descending)
        return [(doc_id, entry) for _, _, doc_id, entry in rows]

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
        rows = self._select(index, prefix, since, upto, descending=descending)
        rows = rows[skip:] if limit is None else rows[skip : skip + max(limit, 0)]
        return [Document(doc_id, entry.rev, _copy(entry.body or {})) for doc_id, entry in rows]

    async def count(
        self, index: str, prefix: Sequence[Any], *, since: Any = None, upto: Any = None
    ) -> int:
        return len(self._select(index, prefix, since, upto, descending=False))

    async def changes(self, since: Any = None, *, timeout_s: float = 0.0) -> Changes:
        if since is None:
            return Changes((), self._seq)
        if not isinstance(since, int) or isinstance(since, bool):
            raise DocumentStoreError(f"{self.database}: not a sequence of this store: {since!r}")
        if timeout_s > 0 and self._seq <= since:
            condition = self._condition()
            async with condition:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(condition.wait_for(lambda: self._seq > since), timeout_s)
        changed = sorted(
            (entry.seq, doc_id, entry.rev)
            for doc_id, entry in self._docs.items()
            if entry.seq > since
        )
        return Changes(
            tuple(doc_id for _, doc_id, _ in changed), self._seq, tuple(rev for *_, rev in changed)
        )
