"""The controller's read cache and authenticator, over the in-memory document store."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.controller.auth import Authenticator
from whisk_services.controller.cache import CachedDocuments
from whisk_services.controller.changes import ChangeFollower
from whisk_services.controller.errors import ApiError
from whisk_services.model.identity import AuthKey, Identity
from whisk_services.ports.databases import SUBJECTS_INDEXES
from whisk_services.ports.documents import Changes, Document


class CountingStore(MemoryDocumentStore):
    """The memory store, counting the reads that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.queries = 0

    async def get(self, doc_id: str) -> Document | None:
        self.gets += 1
        return await super().get(doc_id)

    async def query(self, index: str, prefix: Any, **kwargs: Any) -> list[Document]:
        self.queries += 1
        return await super().query(index, prefix, **kwargs)


def header(key: AuthKey) -> str:
    return "Basic " + base64.b64encode(key.compact().encode()).decode()


def test_cache_serves_repeated_reads_and_keeps_its_own_writes() -> None:
    async def scenario() -> None:
        store = CountingStore()
        follower = ChangeFollower(store)
        cache = CachedDocuments(store, follower)
        written = await cache.put("guest/a", {"v": 1})
        for _ in range(5):
            assert await cache.get("guest/a") == written
        assert store.gets == 0
        # The feed echoing our own write (same revision) keeps the entry.
        follower._tell(Changes(("guest/a",), 1, (written.rev,)))
        await cache.get("guest/a")
        assert store.gets == 0
        # A write made elsewhere (another revision) evicts it; the next read fetches it.
        rev = await store.put("guest/a", {"v": 2}, written.rev)
        follower._tell(Changes(("guest/a",), 2, (rev,)))
        assert (await cache.get("guest/a")) == Document("guest/a", rev, {"v": 2})
        assert store.gets == 1
        # A broken feed clears everything.
        follower._tell(None)
        await cache.get("guest/a")
        assert store.gets == 2

    asyncio.run(scenario())


def test_cache_follows_the_feed_in_the_background() -> None:
    async def scenario() -> None:
        store = CountingStore()
        follower = ChangeFollower(store, poll_s=5)
        cache = CachedDocuments(store, follower)
        first = await cache.put("guest/b", {"v": 1})
        await follower.start()
        try:
            await store.put("guest/b", {"v": 2}, first.rev)
            for _ in range(100):
                doc = await cache.get("guest/b")
                if doc is not None and doc.body == {"v": 2}:
                    break
                await asyncio.sleep(0.01)
            assert doc is not None
            assert doc.body == {"v": 2}
        finally:
            await follower.stop()

    asyncio.run(scenario())


def test_authenticator_checks_the_key_once_then_from_memory() -> None:
    async def scenario() -> None:
        subjects = CountingStore()
        await subjects.ensure(SUBJECTS_INDEXES)
        key = AuthKey.generate()
        identity = Identity.create("guest-user", "guest", key)
        await subjects.put(identity.doc_id(), identity.to_doc())
        auth = Authenticator(subjects, ChangeFollower(subjects))

        for _ in range(3):
            assert (await auth.identify(header(key))).namespace == "guest"
        assert subjects.queries == 1

        wrong = AuthKey(key.uuid, "x" * len(key.key))
        with pytest.raises(ApiError) as refused:
            await auth.identify(header(wrong))
        assert refused.value.status == 401
        unknown = AuthKey.generate()
        with pytest.raises(ApiError):
            await auth.identify(header(unknown))
        for bad in (None, "Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"x").decode()):
            with pytest.raises(ApiError):
                await auth.identify(bad)

    asyncio.run(scenario())


def test_authenticator_forgets_a_changed_subject() -> None:
    async def scenario() -> None:
        subjects = CountingStore()
        await subjects.ensure(SUBJECTS_INDEXES)
        key = AuthKey.generate()
        identity = Identity.create("guest-user", "guest", key)
        rev = await subjects.put(identity.doc_id(), identity.to_doc())
        follower = ChangeFollower(subjects)
        auth = Authenticator(subjects, follower)
        await auth.identify(header(key))

        await subjects.delete(identity.doc_id(), rev)
        follower._tell(Changes((identity.doc_id(),), 2, ("2-x",)))
        with pytest.raises(ApiError):
            await auth.identify(header(key))

    asyncio.run(scenario())


def test_a_namespace_owner_is_read_once_until_the_subjects_change() -> None:
    async def scenario() -> None:
        subjects = CountingStore()
        await subjects.ensure(SUBJECTS_INDEXES)
        identity = Identity.create("guest-user", "guest", AuthKey.generate())
        await subjects.put(identity.doc_id(), identity.to_doc())
        follower = ChangeFollower(subjects)
        auth = Authenticator(subjects, follower)

        for _ in range(3):
            owner = await auth.owner_of("guest")
            assert owner is not None
            assert owner.subject == "guest-user"
            assert await auth.owner_of("nobody") is None
        assert subjects.queries == 2

        other = Identity.create("nobody-user", "nobody", AuthKey.generate())
        await subjects.put(other.doc_id(), other.to_doc())
        follower._tell(Changes((other.doc_id(),), 2, ("1-x",)))
        found = await auth.owner_of("nobody")
        assert found is not None
        assert found.subject == "nobody-user"

    asyncio.run(scenario())


def test_a_cached_document_is_parsed_once_per_revision() -> None:
    async def scenario() -> None:
        store = MemoryDocumentStore()
        follower = ChangeFollower(store)
        cache = CachedDocuments(store, follower)
        parses: list[Any] = []

        def parse(body: dict[str, Any]) -> int:
            parses.append(body)
            return int(body["v"])

        first = await cache.put("guest/a", {"v": 1})
        for _ in range(3):
            doc = await cache.get("guest/a")
            assert doc is not None
            assert cache.parsed(doc, parse) == 1
        assert len(parses) == 1
        newer = await store.put("guest/a", {"v": 2}, first.rev)  # written elsewhere
        follower._tell(Changes(("guest/a",), 2, (newer,)))
        doc = await cache.get("guest/a")
        assert doc is not None
        assert cache.parsed(doc, parse) == 2
        assert len(parses) == 2

    asyncio.run(scenario())
