"""The document store port on the CouchDB HTTP API (Apache CouchDB 3 and PouchDB Server).

Only the subset both servers serve is used: database PUT, ``_security``, documents with
revisions, ``_bulk_docs``, one design document of JavaScript views with the ``_count``
reduce, and ``_changes`` with opaque sequences. Where PouchDB Server 4.2 departs from CouchDB
the adapter makes up the difference:

- A long poll's ``timeout`` is ignored by PouchDB Server (it waits for ever), so the adapter
  also stops waiting itself and returns the point it was given: nothing is lost, the next
  poll starts there again.
- An update naming a revision of a missing or deleted document is a 409 on CouchDB but
  writes the document on PouchDB Server. The new revision's generation tells (it is not the
  named one plus one), so the adapter deletes what was written and raises DocumentConflict.
- Both answer a DELETE of a deleted document at its old revision with 409; the adapter reads
  the document then to raise DocumentNotFound when it is gone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from whisk_services.adapters._index import (
    DESIGN_NAME,
    check_body,
    check_id,
    check_specs,
    collation_key,
    design_document,
    key_range,
    rev_generation,
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

_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_SECURITY: JsonObject = {
    "admins": {"names": [], "roles": []},
    "members": {"names": [], "roles": ["_admin"]},
}
_DESIGN_ID = f"_design/{DESIGN_NAME}"
# How long past a long poll's timeout the adapter waits for the server to answer by itself.
_LONG_POLL_GRACE_S = 0.25


class _Response:
    """What the adapter keeps of an HTTP answer: the status and the decoded JSON body."""

    __slots__ = ("body", "status", "text")

    def __init__(self, status: int, text: str) -> None:
        self.status = status
        self.text = text
        try:
            self.body: Any = json.loads(text) if text else None
        except ValueError:
            self.body = None


class CouchDocumentStore:
    """One CouchDB database, reached through a shared aiohttp session with admin credentials."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        database: str,
        auth: tuple[str, str],
    ) -> None:
        self._session = session
        self._db_url = f"{base_url.rstrip('/')}/{quote(database, safe='')}"
        self._headers = {**_JSON, "Authorization": aiohttp.encode_basic_auth(*auth)}
        self._requests = 0
        self._indexes: dict[str, IndexSpec] = {}
        self.database = database

    @property
    def requests_made(self) -> int:
        return self._requests

    # --- HTTP ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str = "",
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> _Response:
        """Send one request (headers and body in one write) and read the whole answer."""
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        self._requests += 1
        try:
            async with self._session.request(
                method,
                f"{self._db_url}{path}",
                params=params,
                data=data,
                headers=self._headers,
            ) as response:
                return _Response(response.status, await response.text())
        except aiohttp.ClientError as error:
            raise DocumentStoreError(f"{method} {self.database}{path} failed: {error}") from error

    def _unexpected(self, method: str, path: str, response: _Response) -> DocumentStoreError:
        return DocumentStoreError(
            f"{method} {self.database}{path} answered {response.status}: {response.text[:500]}"
        )

    @staticmethod
    def _doc_path(doc_id: str) -> str:
        return f"/{quote(doc_id, safe='')}"

    # --- the port -------------------------------------------------------------------------

    async def ensure(self, indexes: Sequence[IndexSpec]) -> None:
        check_specs(indexes)
        self._indexes = {spec.name: spec for spec in indexes}
        created = await self._request("PUT")
        if created.status not in (201, 202, 412):
            raise self._unexpected("PUT", "", created)
        secured = await self._request("PUT", "/_security", body=_SECURITY)
        if secured.status != 200:
            raise self._unexpected("PUT", "/_security", secured)
        await self._ensure_design(design_document(indexes))

    async def _ensure_design(self, wanted: JsonObject) -> None:
        """Write the design document unless it already holds exactly ``wanted``."""
        path = f"/{_DESIGN_ID}"  # the slash after _design stays literal
        for _attempt in range(3):
            current = await self._request("GET", path)
            if current.status == 200:
                existing = dict(current.body)
                rev = existing.pop("_rev")
                existing.pop("_id", None)
                if existing == wanted:
                    return
                written = await self._request("PUT", path, body={**wanted, "_rev": rev})
            elif current.status == 404:
                written = await self._request("PUT", path, body=wanted)
            else:
                raise self._unexpected("GET", path, current)
            if written.status in (201, 202):
                return
            if written.status != 409:  # 409: another process wrote it meanwhile; read again
                raise self._unexpected("PUT", path, written)
        raise DocumentStoreError(f"{self.database}{path} kept changing while being written")

    async def get(self, doc_id: str) -> Document | None:
        check_id(doc_id)
        path = self._doc_path(doc_id)
        response = await self._request("GET", path)
        if response.status == 404 and _reason(response) in ("missing", "deleted"):
            return None
        if response.status != 200:
            raise self._unexpected("GET", path, response)
        return _document(response.body)

    async def put(self, doc_id: str, body: JsonObject, rev: str | None = None) -> str:
        check_id(doc_id)
        check_body(body)
        path = self._doc_path(doc_id)
        payload = body if rev is None else {**body, "_rev": rev}
        response = await self._request("PUT", path, body=payload)
        if response.status == 409:
            raise DocumentConflict(f"{doc_id} in {self.database}: conflict")
        if response.status not in (201, 202):
            raise self._unexpected("PUT", path, response)
        new_rev: str = response.body["rev"]
        if rev is not None:
            expected = rev_generation(rev)
            if expected is None or rev_generation(new_rev) != expected + 1:
                # PouchDB Server wrote a missing or deleted document that CouchDB would not.
                await self._request("DELETE", path, params={"rev": new_rev})
                raise DocumentConflict(f"{doc_id} in {self.database}: revision {rev} is gone")
        return new_rev

    async def put_many(self, docs: Sequence[tuple[str, JsonObject]]) -> list[str | None]:
        if not docs:
            return []
        for doc_id, body in docs:
            check_id(doc_id)
            check_body(body)
        payload = {"docs": [{**body, "_id": doc_id} for doc_id, body in docs]}
        response = await self._request("POST", "/_bulk_docs", body=payload)
        if response.status not in (201, 202) or not isinstance(response.body, list):
            raise self._unexpected("POST", "/_bulk_docs", response)
        if len(response.body) != len(docs):
            raise self._unexpected("POST", "/_bulk_docs", response)
        revs: list[str | None] = []
        for row in response.body:
            if "rev" in row and not row.get("error"):
                revs.append(row["rev"])
            elif row.get("error") == "conflict":
                revs.append(None)
            else:
                raise DocumentStoreError(f"_bulk_docs in {self.database} refused {row}")
        return revs

    async def delete(self, doc_id: str, rev: str) -> None:
        check_id(doc_id)
        path = self._doc_path(doc_id)
        response = await self._request("DELETE", path, params={"rev": rev})
        if response.status in (200, 202):
            return
        if response.status == 404:
            raise DocumentNotFound(f"{doc_id} in {self.database}")
        if response.status == 409:
            if await self.get(doc_id) is None:
                raise DocumentNotFound(f"{doc_id} in {self.database}")
            raise DocumentConflict(f"{doc_id} in {self.database}: revision {rev} is stale")
        raise self._unexpected("DELETE", path, response)

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
        params = self._range_params(index, prefix, since, upto, descending=descending)
        if params is None or (limit is not None and limit <= 0):
            return []
        params.update(reduce="false", include_docs="true")
        if skip:
            params["skip"] = str(skip)
        if limit is not None:
            params["limit"] = str(limit)
        path = f"/{_DESIGN_ID}/_view/{quote(index, safe='')}"
        response = await self._request("GET", path, params=params)
        if response.status != 200:
            raise self._unexpected("GET", path, response)
        return [_document(row["doc"]) for row in response.body["rows"] if row.get("doc")]

    async def count(
        self, index: str, prefix: Sequence[Any], *, since: Any = None, upto: Any = None
    ) -> int:
        params = self._range_params(index, prefix, since, upto, descending=False)
        if params is None:
            return 0
        params["reduce"] = "true"
        path = f"/{_DESIGN_ID}/_view/{quote(index, safe='')}"
        response = await self._request("GET", path, params=params)
        if response.status != 200:
            raise self._unexpected("GET", path, response)
        rows = response.body["rows"]
        return int(rows[0]["value"]) if rows else 0

    def _range_params(
        self, index: str, prefix: Sequence[Any], since: Any, upto: Any, *, descending: bool
    ) -> dict[str, str] | None:
        """The view parameters of a prefix range bounded by ``since``/``upto``, or None when
        the range is empty (CouchDB answers 400 to a reversed range)."""
        # An index ensured elsewhere: take the prefix as all key fields but the last.
        spec = self._indexes.get(index) or IndexSpec(
            index, tuple(f"k{i}" for i in range(len(prefix) + 1))
        )
        start, end = key_range(spec, prefix, since, upto, descending=descending)
        low, high = (end, start) if descending else (start, end)
        if collation_key(low) > collation_key(high):
            return None
        return {
            "startkey": json.dumps(start, separators=(",", ":")),
            "endkey": json.dumps(end, separators=(",", ":")),
            "descending": "true" if descending else "false",
            "inclusive_end": "true",
        }

    async def changes(self, since: Any = None, *, timeout_s: float = 0.0) -> Changes:
        if since is None:
            params = {"since": "now"}
            timeout_s = 0.0
        else:
            params = {"since": since if isinstance(since, str) else json.dumps(since)}
        if timeout_s > 0:
            params.update(feed="longpoll", timeout=str(max(1, round(timeout_s * 1000))))
            try:
                response = await asyncio.wait_for(
                    self._request("GET", "/_changes", params=params),
                    timeout_s + _LONG_POLL_GRACE_S,
                )
            except TimeoutError:
                # PouchDB Server does not honour ``timeout``: no change came in time.
                return Changes((), since)
        else:
            response = await self._request("GET", "/_changes", params=params)
        if response.status != 200:
            raise self._unexpected("GET", "/_changes", response)
        # One entry per id, in feed order, with the revision its last change made.
        revs: dict[str, str] = {}
        for row in response.body["results"]:
            if not row["id"].startswith("_design/"):
                revs.pop(row["id"], None)
                revs[row["id"]] = row["changes"][0]["rev"]
        return Changes(tuple(revs), response.body["last_seq"], tuple(revs.values()))


def _reason(response: _Response) -> str | None:
    body = response.body
    return body.get("reason") if isinstance(body, dict) else None


def _document(raw: Mapping[str, Any]) -> Document:
    body = {name: value for name, value in raw.items() if name not in ("_id", "_rev")}
    return Document(raw["_id"], raw["_rev"], body)
