"""The invoker's view of actions: fetched from the entity database, cached by revision.

An activation message names the action and the revision the controller saw. A cached
action of that revision is used as is; any other revision (or none cached) is fetched
again. The cache keeps the most recently used ``capacity`` actions.
"""

from __future__ import annotations

from collections import OrderedDict

from whisk_services.model.entities import Action
from whisk_services.model.errors import ModelError
from whisk_services.ports.documents import DocumentStore

ACTION_REMOVED = "Action could not be found or may have been deleted."


class ActionMissingError(LookupError):
    """The action of a message is gone (or is not an action)."""


class ActionSource:
    """Reads actions from ``whisks``, keeping the recent ones by revision."""

    def __init__(self, whisks: DocumentStore, capacity: int = 1024) -> None:
        self._whisks = whisks
        self._capacity = capacity
        self._cache: OrderedDict[str, tuple[str, Action]] = OrderedDict()
        self.fetches = 0

    async def get(self, doc_id: str, revision: str) -> tuple[str, Action]:
        """The action stored as ``doc_id`` and its revision (``revision`` when cached)."""
        cached = self._cache.get(doc_id)
        if cached is not None and cached[0] == revision:
            self._cache.move_to_end(doc_id)
            return cached
        self.fetches += 1
        doc = await self._whisks.get(doc_id)
        if doc is None or doc.body.get("entityType") != Action.ENTITY_TYPE:
            self._cache.pop(doc_id, None)
            raise ActionMissingError(doc_id)
        try:
            action = Action.from_doc(doc.body)
        except ModelError as error:
            raise ActionMissingError(f"{doc_id}: {error}") from error
        entry = (doc.rev, action)
        self._cache[doc_id] = entry
        self._cache.move_to_end(doc_id)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return entry
