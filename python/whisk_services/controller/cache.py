"""A read cache of documents by id, kept true by the changes feed.

Reads of a cached id answer from memory: no database round trip. Writes made through this
cache update it at once; writes made elsewhere (another controller, wskadmin) evict the id
when the ``ChangeFollower`` reports them. Absent documents are not cached, so a create made
elsewhere is seen on the next read.

``parsed`` keeps what a parser made of a cached document (an Action, say) until the
document changes, so a hot read does not parse the same revision again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from whisk_services.controller.changes import ChangeFollower
from whisk_services.ports.documents import Changes, Document, DocumentStore, JsonObject

T = TypeVar("T")


class CachedDocuments:
    """Get, put and delete through ``store``, remembering what was read or written."""

    def __init__(
        self, store: DocumentStore, follower: ChangeFollower, capacity: int = 10_000
    ) -> None:
        self.store = store
        self.capacity = capacity
        self._docs: dict[str, Document] = {}
        self._parsed: dict[str, tuple[str, Callable[[JsonObject], Any], Any]] = {}
        follower.subscribe(self._invalidate)

    def _invalidate(self, changes: Changes | None) -> None:
        if changes is None:
            self._docs.clear()
            self._parsed.clear()
            return
        for doc_id, rev in changes.rev_of().items():
            cached = self._docs.get(doc_id)
            # The echo of a write made through this cache changes nothing: keep the entry.
            if cached is not None and cached.rev != rev:
                del self._docs[doc_id]
                self._parsed.pop(doc_id, None)

    def _remember(self, doc: Document) -> None:
        if len(self._docs) >= self.capacity:
            evicted = next(iter(self._docs))
            self._docs.pop(evicted)
            self._parsed.pop(evicted, None)
        self._docs[doc.id] = doc

    async def get(self, doc_id: str) -> Document | None:
        cached = self._docs.get(doc_id)
        if cached is not None:
            return cached
        doc = await self.store.get(doc_id)
        if doc is not None:
            self._remember(doc)
        return doc

    async def put(self, doc_id: str, body: JsonObject, rev: str | None = None) -> Document:
        new_rev = await self.store.put(doc_id, body, rev)
        doc = Document(doc_id, new_rev, body)
        self._remember(doc)
        return doc

    def parsed(self, doc: Document, parse: Callable[[JsonObject], T]) -> T:
        """``parse(doc.body)``, made once per revision of the document."""
        kept = self._parsed.get(doc.id)
        if kept is not None and kept[0] == doc.rev and kept[1] == parse:
            value: T = kept[2]
            return value
        made = parse(doc.body)
        self._parsed[doc.id] = (doc.rev, parse, made)
        return made

    async def delete(self, doc: Document) -> None:
        self._docs.pop(doc.id, None)
        self._parsed.pop(doc.id, None)
        await self.store.delete(doc.id, doc.rev)
