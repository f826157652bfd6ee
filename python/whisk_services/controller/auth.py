"""Who is calling: HTTP Basic authentication against the subjects database.

The credentials are OpenWhisk's `uuid:key`. The subjects database stores only a salted hash
of each key, so a first request costs one key derivation; after it, the identity is held in
memory under a fingerprint of the key and checked in constant time. A change to the subject
(rotation, deletion) evicts it through the changes feed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from whisk_services.controller import errors
from whisk_services.controller.changes import ChangeFollower
from whisk_services.controller.errors import ApiError
from whisk_services.model.errors import ModelError
from whisk_services.model.identity import AuthKey, Identity
from whisk_services.ports.documents import Changes, DocumentStore

REALM = 'Basic realm="OpenWhisk secure realm"'


@dataclass(frozen=True, slots=True)
class _Known:
    doc_id: str
    fingerprint: bytes
    identity: Identity


def _fingerprint(key: AuthKey) -> bytes:
    return hashlib.sha256(f"{key.uuid}:{key.key}".encode()).digest()


def parse_basic(header: str | None) -> AuthKey:
    """The `uuid:key` of an `Authorization: Basic ...` header, or a 401."""
    if not header or not header.startswith("Basic "):
        raise ApiError(401, errors.UNAUTHORIZED)
    try:
        text = base64.b64decode(header[6:].strip(), validate=True).decode()
        return AuthKey.parse(text)
    except (binascii.Error, UnicodeDecodeError, ModelError) as error:
        raise ApiError(401, errors.UNAUTHORIZED) from error


class Authenticator:
    """Turns an Authorization header into the caller's Identity."""

    def __init__(self, subjects: DocumentStore, follower: ChangeFollower) -> None:
        self.subjects = subjects
        self._known: dict[str, _Known] = {}
        self._owners: dict[str, Identity | None] = {}  # namespace → owner (None: none)
        follower.subscribe(self._invalidate)

    def _invalidate(self, changes: Changes | None) -> None:
        self._owners.clear()  # any subject change may give or take a namespace's owner
        if changes is None:
            self._known.clear()
            return
        changed = set(changes.ids)
        for uuid in [u for u, k in self._known.items() if k.doc_id in changed]:
            del self._known[uuid]

    async def owner_of(self, namespace: str) -> Identity | None:
        """The identity of a subject owning ``namespace`` (a blocked one does not count),
        cached until the subjects database changes."""
        if namespace in self._owners:
            return self._owners[namespace]
        owner: Identity | None = None
        for doc in await self.subjects.query("namespaces", [namespace], limit=None):
            try:
                owner = Identity.from_doc(doc.body)
                break
            except ModelError:
                continue
        self._owners[namespace] = owner
        return owner

    async def identify(self, header: str | None) -> Identity:
        key = parse_basic(header)
        fingerprint = _fingerprint(key)
        known = self._known.get(key.uuid)
        if known is not None:
            if hmac.compare_digest(known.fingerprint, fingerprint):
                return known.identity
            raise ApiError(401, errors.UNAUTHORIZED)
        found = await self.subjects.query("identities", [key.uuid], limit=1)
        if not found:
            raise ApiError(401, errors.UNAUTHORIZED)
        doc = found[0]
        try:
            identity = Identity.from_doc(doc.body)  # a blocked subject has no identity
        except ModelError as error:
            raise ApiError(401, errors.UNAUTHORIZED) from error
        if not identity.authenticates(key):
            raise ApiError(401, errors.UNAUTHORIZED)
        self._known[key.uuid] = _Known(doc.id, fingerprint, identity)
        return identity
