"""The CouchDB-API server serves the subset the platform uses, behind authentication.

These are the calls the controller and invoker make: databases, documents with revision
checks, bulk writes, the changes feed, and queries by view and by Mango index. The last tests
prove the project's fix of PouchDB Server's crash and hang on unauthenticated database PUT
and DELETE (pouchdb-server issue 374).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from whisk_testbed.couchdb import CouchDBServer

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(couchdb: CouchDBServer) -> Iterator[requests.Session]:
    session = requests.Session()
    session.auth = couchdb.admin_auth
    yield session
    session.close()


@pytest.fixture
def database(couchdb: CouchDBServer, admin: requests.Session) -> Iterator[str]:
    url = f"{couchdb.url}/test_{uuid.uuid4().hex[:12]}"
    assert admin.put(url, timeout=10).status_code == 201
    yield url
    admin.delete(url, timeout=10)


def test_create_database_twice_is_412(couchdb: CouchDBServer, admin: requests.Session) -> None:
    url = f"{couchdb.url}/test_{uuid.uuid4().hex[:12]}"
    assert admin.put(url, timeout=10).status_code == 201
    again = admin.put(url, timeout=10)
    assert again.status_code == 412
    assert again.json()["error"] == "file_exists"
    assert admin.get(url, timeout=10).json()["doc_count"] == 0
    assert admin.delete(url, timeout=10).status_code == 200
    assert admin.get(url, timeout=10).status_code == 404


def test_document_put_get_and_stale_revision_conflict(
    admin: requests.Session, database: str
) -> None:
    created = admin.put(f"{database}/guest%2Fhello", json={"exec": "nodejs:18"}, timeout=10)
    assert created.status_code == 201
    first_rev = created.json()["rev"]

    fetched = admin.get(f"{database}/guest%2Fhello", timeout=10).json()
    assert fetched["exec"] == "nodejs:18"
    assert fetched["_rev"] == first_rev

    updated = admin.put(
        f"{database}/guest%2Fhello", json={"_rev": first_rev, "exec": "python:3.11"}, timeout=10
    )
    assert updated.status_code == 201

    stale = admin.put(
        f"{database}/guest%2Fhello", json={"_rev": first_rev, "exec": "blackbox"}, timeout=10
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "conflict"
    no_rev = admin.put(f"{database}/guest%2Fhello", json={"exec": "blackbox"}, timeout=10)
    assert no_rev.status_code == 409
    current = admin.get(f"{database}/guest%2Fhello", timeout=10).json()
    assert current["exec"] == "python:3.11"


def test_bulk_docs_reports_each_document(admin: requests.Session, database: str) -> None:
    seeded = admin.put(f"{database}/a1", json={"n": 0}, timeout=10).json()
    docs: list[dict[str, Any]] = [
        {"_id": "a1", "_rev": "1-00000000000000000000000000000000", "n": 1},
        {"_id": "a2", "n": 2},
        {"_id": "a3", "n": 3},
    ]
    response = admin.post(f"{database}/_bulk_docs", json={"docs": docs}, timeout=10)
    assert response.status_code == 201
    results = {row["id"]: row for row in response.json()}
    assert results["a1"]["error"] == "conflict"
    assert results["a2"]["ok"] is True
    assert results["a3"]["ok"] is True
    assert admin.get(f"{database}/a1", timeout=10).json()["_rev"] == seeded["rev"]

    listed = admin.get(f"{database}/_all_docs", params={"include_docs": "true"}, timeout=10)
    assert [row["doc"].get("n") for row in listed.json()["rows"]] == [0, 2, 3]


def test_changes_feed_lists_writes_after_a_sequence(admin: requests.Session, database: str) -> None:
    admin.put(f"{database}/before", json={}, timeout=10)
    since = admin.get(f"{database}/_changes", timeout=10).json()["last_seq"]
    admin.put(f"{database}/after1", json={}, timeout=10)
    admin.put(f"{database}/after2", json={}, timeout=10)

    # The seq is opaque: it is passed back exactly as the server gave it.
    changes = admin.get(f"{database}/_changes", params={"since": since}, timeout=10).json()
    assert sorted(row["id"] for row in changes["results"]) == ["after1", "after2"]

    # A long poll blocks until the next write and then reports it: how caches follow writes.
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(
            admin.get,
            f"{database}/_changes",
            params={"since": changes["last_seq"], "feed": "longpoll"},
            timeout=20,
        )
        time.sleep(0.5)
        assert not waiting.done()
        admin.put(f"{database}/after3", json={}, timeout=10)
        longpoll = waiting.result(timeout=20).json()
    assert [row["id"] for row in longpoll["results"]] == ["after3"]


def test_query_by_view_and_by_mango_index(admin: requests.Session, database: str) -> None:
    docs = [
        {"_id": f"act{i}", "namespace": "guest" if i % 2 else "other", "start": 1000 + i}
        for i in range(10)
    ]
    assert admin.post(f"{database}/_bulk_docs", json={"docs": docs}, timeout=10).ok

    design = {
        "views": {
            "by_namespace": {
                "map": "function (doc) { if (doc.namespace) emit([doc.namespace, doc.start]); }",
                "reduce": "_count",
            }
        }
    }
    assert admin.put(f"{database}/_design/activations", json=design, timeout=10).ok
    view = f"{database}/_design/activations/_view/by_namespace"
    rows = admin.get(
        view,
        params={
            "reduce": "false",
            "startkey": '["guest", 0]',
            "endkey": '["guest", {}]',
            "descending": "false",
        },
        timeout=10,
    ).json()["rows"]
    assert [row["id"] for row in rows] == ["act1", "act3", "act5", "act7", "act9"]
    counts = admin.get(view, params={"group_level": "1"}, timeout=10).json()["rows"]
    assert {tuple(row["key"]): row["value"] for row in counts} == {("guest",): 5, ("other",): 5}

    index: dict[str, Any] = {
        "index": {"fields": ["namespace", "start"]},
        "name": "ns-start",
        "type": "json",
    }
    assert admin.post(f"{database}/_index", json=index, timeout=10).ok
    found = admin.post(
        f"{database}/_find",
        json={
            "selector": {"namespace": "guest", "start": {"$gt": 1004}},
            "fields": ["_id", "start"],
            "sort": [{"namespace": "asc"}, {"start": "asc"}],
        },
        timeout=10,
    ).json()
    assert [doc["_id"] for doc in found["docs"]] == ["act5", "act7", "act9"]


def test_requests_without_credentials_are_refused(
    couchdb: CouchDBServer, admin: requests.Session, database: str
) -> None:
    admin.put(f"{database}/_security", json={"admins": {}, "members": {"roles": ["_admin"]}})
    anonymous = requests.get(f"{database}/_all_docs", timeout=10)
    assert anonymous.status_code == 401
    wrong = requests.get(f"{database}/_all_docs", auth=("whisk_admin", "wrong"), timeout=10)
    assert wrong.status_code == 401


def test_unauthenticated_database_put_and_delete_neither_crash_nor_wedge(
    couchdb: CouchDBServer, admin: requests.Session
) -> None:
    victim = f"{couchdb.url}/test_{uuid.uuid4().hex[:12]}"
    assert admin.put(victim, timeout=10).status_code == 201

    created = requests.put(f"{couchdb.url}/test_{uuid.uuid4().hex[:12]}", timeout=10)
    assert created.status_code == 401
    assert created.json()["error"] == "unauthorized"
    deleted = requests.delete(victim, timeout=10)
    assert deleted.status_code == 401
    deleted_again = requests.delete(f"{couchdb.url}/no_such_db", timeout=10)
    assert deleted_again.status_code == 401

    assert couchdb.process is not None
    assert couchdb.process.running()
    # The admin is still served, without a hang, for database-level operations too.
    assert admin.get(victim, timeout=5).status_code == 200
    fresh = f"{couchdb.url}/test_{uuid.uuid4().hex[:12]}"
    assert admin.put(fresh, timeout=5).status_code == 201
    assert admin.delete(fresh, timeout=5).status_code == 200
    assert admin.delete(victim, timeout=5).status_code == 200
