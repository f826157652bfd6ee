"""One contract, two document stores: CouchDB's API (PouchDB Server here) and memory.

Every test runs against both, so the controller's unit tests on ``MemoryDocumentStore``
rest on the behaviour the real server shows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest

from whisk_services.adapters.couchdb import CouchDocumentStore
from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.ports.documents import (
    DocumentConflict,
    DocumentNotFound,
    DocumentStore,
    DocumentStoreError,
    IndexSpec,
)
from whisk_testbed.couchdb import CouchDBServer

pytestmark = pytest.mark.integration

INDEXES = (
    IndexSpec("actions", ("namespace", "updated"), {"entityType": "action"}),
    IndexSpec("packages", ("namespace", "updated"), {"entityType": "package"}),
    IndexSpec("public_packages", ("updated",), {"entityType": "package", "publish": True}),
    IndexSpec("activations", ("namespace", "name", "start"), {"entityType": "activation"}),
)

Opener = Callable[[], AbstractAsyncContextManager[DocumentStore]]
Scenario = Callable[[DocumentStore], Awaitable[None]]


@pytest.fixture(params=["couchdb", "memory"])
def open_store(request: pytest.FixtureRequest) -> Opener:
    """Opens a fresh, ensured store (a new database on the server) inside the test's loop."""
    if request.param == "memory":

        @asynccontextmanager
        async def memory() -> AsyncIterator[DocumentStore]:
            store = MemoryDocumentStore()
            await store.ensure(INDEXES)
            yield store

        return memory

    couchdb: CouchDBServer = request.getfixturevalue("couchdb")

    @asynccontextmanager
    async def couch() -> AsyncIterator[DocumentStore]:
        database = f"test_{uuid.uuid4().hex[:12]}"
        async with aiohttp.ClientSession() as session:
            store = CouchDocumentStore(session, couchdb.url, database, couchdb.admin_auth)
            await store.ensure(INDEXES)
            try:
                yield store
            finally:
                auth = {"Authorization": aiohttp.encode_basic_auth(*couchdb.admin_auth)}
                async with session.delete(f"{couchdb.url}/{database}", headers=auth):
                    pass

    return couch


def run(open_store: Opener, scenario: Scenario) -> None:
    async def main() -> None:
        async with open_store() as store:
            await scenario(store)

    asyncio.run(main())


def action(namespace: str, name: str, updated: int, **extra: Any) -> dict[str, Any]:
    return {
        "entityType": "action",
        "namespace": namespace,
        "name": name,
        "updated": updated,
        **extra,
    }


def test_get_missing_is_none(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        assert await store.get("guest/nothing") is None

    run(open_store, scenario)


def test_create_get_and_create_again_conflicts(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        body = action("guest", "hello", 1, exec={"kind": "nodejs:18"}, limits=[1, None, True])
        rev = await store.put("guest/hello", body)
        assert rev.startswith("1-")
        doc = await store.get("guest/hello")
        assert doc is not None
        assert (doc.id, doc.rev, doc.body) == ("guest/hello", rev, body)
        with pytest.raises(DocumentConflict):
            await store.put("guest/hello", action("guest", "hello", 2))
        again = await store.get("guest/hello")
        assert again is not None
        assert again.body["updated"] == 1

    run(open_store, scenario)


def test_update_with_current_revision_and_stale_one(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        first = await store.put("guest/hello", action("guest", "hello", 1))
        second = await store.put("guest/hello", action("guest", "hello", 2), rev=first)
        assert second.startswith("2-")
        assert second != first
        with pytest.raises(DocumentConflict):
            await store.put("guest/hello", action("guest", "hello", 3), rev=first)
        with pytest.raises(DocumentConflict):
            await store.put("guest/hello", action("guest", "hello", 3))
        doc = await store.get("guest/hello")
        assert doc is not None
        assert (doc.rev, doc.body["updated"]) == (second, 2)

    run(open_store, scenario)


def test_update_of_a_missing_or_deleted_document_conflicts(open_store: Opener) -> None:
    # CouchDB refuses these; PouchDB Server writes them and the adapter undoes the write.
    async def scenario(store: DocumentStore) -> None:
        with pytest.raises(DocumentConflict):
            await store.put("guest/ghost", {"n": 1}, rev="1-0123456789abcdef0123456789abcdef")
        assert await store.get("guest/ghost") is None
        rev = await store.put("guest/gone", {"n": 1})
        await store.delete("guest/gone", rev)
        with pytest.raises(DocumentConflict):
            await store.put("guest/gone", {"n": 2}, rev=rev)
        assert await store.get("guest/gone") is None
        # Created anew without a revision, as a deleted id may be.
        recreated = await store.put("guest/gone", {"n": 3})
        assert int(recreated.split("-")[0]) > int(rev.split("-")[0])
        doc = await store.get("guest/gone")
        assert doc is not None
        assert doc.body == {"n": 3}

    run(open_store, scenario)


def test_delete_stale_then_current_then_again(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        first = await store.put("guest/hello", action("guest", "hello", 1))
        second = await store.put("guest/hello", action("guest", "hello", 2), rev=first)
        with pytest.raises(DocumentConflict):
            await store.delete("guest/hello", first)
        assert await store.get("guest/hello") is not None
        await store.delete("guest/hello", second)
        assert await store.get("guest/hello") is None
        with pytest.raises(DocumentNotFound):
            await store.delete("guest/hello", second)
        with pytest.raises(DocumentNotFound):
            await store.delete("guest/never", first)

    run(open_store, scenario)


def test_ids_with_slashes_spaces_and_unicode(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        ids = ["guest/pkg/hello world", "guest/a?b#c&d=e%20f", "gäst/☃/+plus"]
        for number, doc_id in enumerate(ids):
            rev = await store.put(doc_id, {"n": number})
            doc = await store.get(doc_id)
            assert doc is not None
            assert (doc.id, doc.rev, doc.body) == (doc_id, rev, {"n": number})
        assert await store.get("guest/pkg") is None
        doc = await store.get(ids[0])
        assert doc is not None
        await store.delete(ids[0], doc.rev)
        assert await store.get(ids[0]) is None
        assert await store.get(ids[1]) is not None

    run(open_store, scenario)


def test_reserved_ids_and_fields_are_refused(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        with pytest.raises(DocumentStoreError):
            await store.put("_design/x", {})
        with pytest.raises(DocumentStoreError):
            await store.put("guest/x", {"_attachments": {}})
        with pytest.raises(DocumentStoreError):
            await store.put_many([("ok", {}), ("_bad", {})])
        assert await store.get("ok") is None

    run(open_store, scenario)


def test_ensure_twice_is_idempotent_and_keeps_the_data(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        await store.put("guest/hello", action("guest", "hello", 1))
        await store.ensure(INDEXES)
        before = store.requests_made
        await store.ensure(INDEXES)
        if isinstance(store, CouchDocumentStore):
            # The database, its security and a read of the unchanged design document.
            assert store.requests_made == before + 3
        assert [d.id for d in await store.query("actions", ["guest"])] == ["guest/hello"]
        # A changed index list replaces the views.
        await store.ensure((*INDEXES, IndexSpec("by_name", ("name",))))
        assert [d.id for d in await store.query("by_name", [])] == ["guest/hello"]
        assert [d.id for d in await store.query("actions", ["guest"])] == ["guest/hello"]

    run(open_store, scenario)


async def _seed(store: DocumentStore) -> None:
    docs: list[tuple[str, dict[str, Any]]] = [
        (f"guest/a{n}", action("guest", f"a{n}", 100 + n)) for n in range(6)
    ]
    docs += [
        ("other/a0", action("other", "a0", 103)),
        (
            "guest/p1",
            {"entityType": "package", "namespace": "guest", "updated": 101, "publish": True},
        ),
        (
            "guest/p2",
            {"entityType": "package", "namespace": "guest", "updated": 102, "publish": False},
        ),
        (
            "other/p3",
            {"entityType": "package", "namespace": "other", "updated": 99, "publish": True},
        ),
        ("other/p4", {"entityType": "package", "namespace": "other", "updated": 98, "publish": 1}),
        ("guest/x", {"entityType": "rule", "namespace": "guest", "updated": 100}),
    ]
    revs = await store.put_many(docs)
    assert all(rev is not None and rev.startswith("1-") for rev in revs)


def test_query_by_prefix_newest_first_with_skip_and_limit(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        await _seed(store)

        async def ids(*args: Any, **kwargs: Any) -> list[str]:
            return [doc.id for doc in await store.query(*args, **kwargs)]

        newest_first = [f"guest/a{n}" for n in range(5, -1, -1)]
        assert await ids("actions", ["guest"]) == newest_first
        assert await ids("actions", ["guest"], descending=False) == newest_first[::-1]
        assert await ids("actions", ["guest"], skip=1, limit=2) == ["guest/a4", "guest/a3"]
        assert await ids("actions", ["guest"], skip=5, limit=10) == ["guest/a0"]
        assert await ids("actions", ["guest"], skip=6) == []
        assert await ids("actions", ["guest"], limit=0) == []
        assert await ids("actions", ["other"]) == ["other/a0"]
        assert await ids("actions", ["nobody"]) == []
        # Bounds are inclusive and apply in both directions.
        assert await ids("actions", ["guest"], since=102) == [
            "guest/a5",
            "guest/a4",
            "guest/a3",
            "guest/a2",
        ]
        assert await ids("actions", ["guest"], upto=101) == ["guest/a1", "guest/a0"]
        assert await ids("actions", ["guest"], since=101, upto=103, limit=2) == [
            "guest/a3",
            "guest/a2",
        ]
        assert await ids("actions", ["guest"], since=101, upto=103, descending=False) == [
            "guest/a1",
            "guest/a2",
            "guest/a3",
        ]
        assert await ids("actions", ["guest"], since=104, upto=102) == []
        # An empty prefix lists every namespace, ordered by the whole key.
        assert (await ids("actions", [], descending=False))[-1] == "other/a0"

        docs = await store.query("actions", ["guest"], limit=1)
        assert docs[0].body == action("guest", "a5", 105)
        assert docs[0].rev.startswith("1-")

    run(open_store, scenario)


def test_query_match_filters(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        await _seed(store)
        packages = await store.query("packages", ["guest"])
        assert [d.id for d in packages] == ["guest/p2", "guest/p1"]
        # publish must be true itself: 1 and false are not.
        public = await store.query("public_packages", [])
        assert [d.id for d in public] == ["guest/p1", "other/p3"]
        assert [d.id for d in await store.query("public_packages", [], since=100)] == ["guest/p1"]
        # An updated document moves in and out of the indexes.
        p2 = packages[0]
        await store.put(p2.id, {**p2.body, "publish": True, "updated": 110}, rev=p2.rev)
        public = await store.query("public_packages", [])
        assert [d.id for d in public] == ["guest/p2", "guest/p1", "other/p3"]
        a5 = await store.get("guest/a5")
        assert a5 is not None
        await store.delete(a5.id, a5.rev)
        assert [d.id for d in await store.query("actions", ["guest"], limit=1)] == ["guest/a4"]

    run(open_store, scenario)


def test_query_with_a_longer_key_and_missing_fields(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        docs: list[tuple[str, dict[str, Any]]] = [
            (
                f"act{n}",
                {"entityType": "activation", "namespace": "guest", "name": name, "start": start},
            )
            for n, (name, start) in enumerate([("hi", 5), ("hi", 7), ("bye", 6), ("hi", 6)])
        ]
        docs.append(("act9", {"entityType": "activation", "namespace": "guest", "name": "hi"}))
        await store.put_many(docs)
        hi = await store.query("activations", ["guest", "hi"])
        # The document without a start keys as null: the lowest, last when newest first.
        assert [d.id for d in hi] == ["act1", "act3", "act0", "act9"]
        assert [d.id for d in await store.query("activations", ["guest", "hi"], since=6)] == [
            "act1",
            "act3",
        ]
        everything = await store.query("activations", ["guest"], descending=False)
        assert [d.id for d in everything] == ["act2", "act9", "act0", "act3", "act1"]
        assert await store.count("activations", ["guest"]) == 5
        with pytest.raises(ValueError, match="prefix"):
            await store.query("activations", ["guest"], since=5)

    run(open_store, scenario)


def test_count(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        assert await store.count("actions", ["guest"]) == 0
        await _seed(store)
        assert await store.count("actions", ["guest"]) == 6
        assert await store.count("actions", ["other"]) == 1
        assert await store.count("actions", []) == 7
        assert await store.count("actions", ["guest"], since=102) == 4
        assert await store.count("actions", ["guest"], since=101, upto=103) == 3
        assert await store.count("actions", ["guest"], upto=99) == 0
        assert await store.count("public_packages", []) == 2

    run(open_store, scenario)


def test_unknown_index_is_an_error(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        with pytest.raises(DocumentStoreError):
            await store.query("no_such_index", ["guest"])

    run(open_store, scenario)


def test_put_many_reports_taken_ids(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        taken = await store.put("guest/a", {"n": 0})
        revs = await store.put_many(
            [("guest/a", {"n": 1}), ("guest/b", {"n": 2}), ("guest/c c", {"n": 3})]
        )
        assert revs[0] is None
        assert revs[1] is not None
        assert revs[2] is not None
        a = await store.get("guest/a")
        assert a is not None
        assert (a.rev, a.body) == (taken, {"n": 0})
        b = await store.get("guest/b")
        assert b is not None
        assert (b.rev, b.body) == (revs[1], {"n": 2})
        assert await store.put_many([]) == []

    run(open_store, scenario)


def test_changes_since_a_point(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        await store.put("guest/before", {})
        now = await store.changes()
        assert now.ids == ()
        first = await store.put("guest/after 1", {})
        second = await store.put("guest/after2", {})
        latest = await store.put("guest/after 1", {"n": 1}, rev=first)
        changed = await store.changes(now.last_seq)
        assert sorted(changed.ids) == ["guest/after 1", "guest/after2"]
        # Each id is reported once, with the revision its last change made.
        assert changed.rev_of() == {"guest/after 1": latest, "guest/after2": second}
        assert (await store.changes(changed.last_seq)).ids == ()
        doc = await store.get("guest/after2")
        assert doc is not None
        await store.delete(doc.id, doc.rev)
        # Deletions are changes; design documents are not reported.
        await store.ensure((*INDEXES, IndexSpec("more", ("n",))))
        assert (await store.changes(changed.last_seq)).ids == ("guest/after2",)

    run(open_store, scenario)


def test_changes_long_poll_wakes_on_a_write_and_times_out_empty(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        point = (await store.changes()).last_seq
        loop = asyncio.get_running_loop()

        started = loop.time()
        empty = await store.changes(point, timeout_s=0.5)
        waited = loop.time() - started
        assert empty.ids == ()
        assert 0.4 <= waited < 3.0
        point = empty.last_seq

        waiting = asyncio.create_task(store.changes(point, timeout_s=20))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        started = loop.time()
        await store.put("guest/woken", {})
        woke = await asyncio.wait_for(waiting, 10)
        assert loop.time() - started < 2.0
        assert woke.ids == ("guest/woken",)
        assert (await store.changes(woke.last_seq)).ids == ()

    run(open_store, scenario)


def test_requests_made_counts_server_requests(open_store: Opener) -> None:
    async def scenario(store: DocumentStore) -> None:
        before = store.requests_made
        await store.put("guest/a", {})
        await store.get("guest/a")
        await store.count("actions", ["guest"])
        if isinstance(store, CouchDocumentStore):
            assert store.requests_made == before + 3
        else:
            assert store.requests_made == 0

    run(open_store, scenario)


def test_only_admins_read_an_ensured_database(couchdb: CouchDBServer) -> None:
    async def scenario() -> None:
        database = f"test_{uuid.uuid4().hex[:12]}"
        async with aiohttp.ClientSession() as session:
            store = CouchDocumentStore(session, couchdb.url, database, couchdb.admin_auth)
            await store.ensure(INDEXES)
            await store.put("guest/secret", {"n": 1})
            async with session.get(f"{couchdb.url}/{database}/guest%2Fsecret") as anonymous:
                assert anonymous.status == 401
            assert await store.get("guest/secret") is not None
            auth = {"Authorization": aiohttp.encode_basic_auth(*couchdb.admin_auth)}
            async with session.delete(f"{couchdb.url}/{database}", headers=auth):
                pass

    asyncio.run(scenario())
