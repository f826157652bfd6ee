"""Details of the in-memory store and the index rules it shares with the CouchDB adapter.

The behaviour both stores share is proved against a real server in
tests/integration/test_document_stores.py; these are the parts only memory shows.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from whisk_services.adapters._index import (
    check_specs,
    collation_key,
    design_document,
    key_range,
    map_function,
    matches,
)
from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.ports.documents import Changes, DocumentStore, DocumentStoreError, IndexSpec

SPEC = IndexSpec("public", ("namespace", "updated"), {"entityType": "package", "publish": True})


def test_memory_store_satisfies_the_port() -> None:
    store: DocumentStore = MemoryDocumentStore()
    assert store.requests_made == 0


def test_revisions_count_generations_with_a_hex_tail() -> None:
    async def scenario() -> None:
        store = MemoryDocumentStore()
        first = await store.put("a", {})
        second = await store.put("a", {}, rev=first)
        assert re.fullmatch(r"1-[0-9a-f]{32}", first)
        assert re.fullmatch(r"2-[0-9a-f]{32}", second)
        await store.delete("a", second)
        assert (await store.put("a", {})).startswith("4-")

    asyncio.run(scenario())


def test_bodies_are_copied_in_and_out() -> None:
    async def scenario() -> None:
        store = MemoryDocumentStore()
        body: dict[str, Any] = {"list": [1, 2], "tuple": (3, 4)}
        await store.put("a", body)
        body["list"].append(3)
        doc = await store.get("a")
        assert doc is not None
        assert doc.body == {"list": [1, 2], "tuple": [3, 4]}
        doc.body["list"].clear()
        again = await store.get("a")
        assert again is not None
        assert again.body["list"] == [1, 2]
        with pytest.raises(TypeError):
            await store.put("b", {"not json": {1, 2}})

    asyncio.run(scenario())


def test_changes_are_integers_and_foreign_points_are_refused() -> None:
    async def scenario() -> None:
        store = MemoryDocumentStore()
        assert (await store.changes()).last_seq == 0
        rev = await store.put("a", {})
        await store.put("b", {})
        await store.put("a", {"n": 1}, rev=rev)
        changed = await store.changes(0)
        assert (changed.ids, changed.last_seq) == (("b", "a"), 3)
        assert await store.changes(3) == Changes((), 3)
        with pytest.raises(DocumentStoreError):
            await store.changes("2-g1AAAA")

    asyncio.run(scenario())


def test_index_matching_is_strict_like_javascript() -> None:
    base = {"entityType": "package", "namespace": "guest"}
    assert matches(SPEC, {**base, "publish": True})
    assert not matches(SPEC, {**base, "publish": 1})
    assert not matches(SPEC, {**base, "publish": "true"})
    assert not matches(SPEC, base)
    null_spec = IndexSpec("n", ("x",), {"gone": None})
    assert matches(null_spec, {"gone": None})
    assert not matches(null_spec, {})
    assert not matches(null_spec, {"gone": 0})
    assert matches(IndexSpec("z", ("x",), {"n": 0}), {"n": 0.0})
    assert not matches(IndexSpec("z", ("x",), {"n": 0}), {"n": False})


def test_collation_follows_couchdb_order() -> None:
    ordered: list[Any] = [
        None,
        False,
        True,
        -1,
        0,
        1.5,
        2,
        "",
        "A",
        "a",
        "b",
        [],
        [None],
        [1],
        [1, None],
        [1, 2],
        [2],
        ["a"],
        {},
    ]
    shuffled = list(reversed(ordered))
    assert sorted(shuffled, key=collation_key) == ordered


def test_key_range_sentinels_and_prefix_checks() -> None:
    assert key_range(SPEC, ["guest"], None, None, descending=True) == (["guest", {}], ["guest"])
    assert key_range(SPEC, ["guest"], None, None, descending=False) == (["guest"], ["guest", {}])
    assert key_range(SPEC, ["guest"], 5, 9, descending=True) == (["guest", 9], ["guest", 5])
    assert key_range(SPEC, [], None, None, descending=False) == ([], [{}])
    with pytest.raises(ValueError, match="prefix"):
        key_range(SPEC, [], 5, None, descending=False)
    with pytest.raises(ValueError, match="key fields"):
        key_range(SPEC, ["a", 1, 2], None, None, descending=False)


def test_map_function_encodes_values_as_json() -> None:
    tricky = IndexSpec("t", ('a"b', "updated"), {"kind": 'it\'s "quoted"\u2028', "on": True})
    source = map_function(tricky)
    assert 'doc["kind"] === "it\'s \\"quoted\\"\\u2028"' in source
    assert 'doc["on"] === true' in source
    assert 'emit([field("a\\"b"), field("updated")], null)' in source
    assert "if (true)" in map_function(IndexSpec("all", ("x",)))
    design = design_document([SPEC])
    assert design["views"]["public"]["reduce"] == "_count"
    assert json.loads(json.dumps(design)) == design


def test_index_specs_are_checked() -> None:
    check_specs([SPEC])
    with pytest.raises(ValueError, match="twice"):
        check_specs([SPEC, SPEC])
    with pytest.raises(ValueError, match="identifier"):
        check_specs([IndexSpec("a/b", ("x",))])
    with pytest.raises(ValueError, match="no key"):
        check_specs([IndexSpec("a", ())])
    with pytest.raises(TypeError, match="non-scalar"):
        check_specs([IndexSpec("a", ("x",), {"y": [1]})])


def test_long_poll_wakes_every_waiter() -> None:
    async def scenario() -> None:
        store = MemoryDocumentStore()
        waiters = [asyncio.create_task(store.changes(0, timeout_s=5)) for _ in range(3)]
        await asyncio.sleep(0.05)
        await store.put("a", {})
        results = await asyncio.wait_for(asyncio.gather(*waiters), 1)
        assert [r.ids for r in results] == [("a",)] * 3

    asyncio.run(scenario())
