"""Identities and authorization keys, with keys kept only as salted PBKDF2 hashes.

An `AuthKey` is what a client sends (`uuid:key`, HTTP Basic user and password); it exists only
in transit and when a key is first created. The stored `Identity` holds `hash_key(key)`,
checked with `verify_key`, which compares in constant time.

An identity is stored as a `subject` document (`to_doc`) under the subject's name; the document
holds the key's hash under `key`, never the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import uuid
from dataclasses import dataclass, field
from typing import ClassVar, Self

from whisk_services.model._json import ENTITY_TYPE_FIELD, JsonObject, as_document, req_str
from whisk_services.model.errors import ModelError
from whisk_services.model.names import validate_namespace

KEY_LENGTH = 64
KEY_ALPHABET = string.ascii_letters + string.digits
SUBJECT_MIN_LENGTH = 5
HASH_SCHEME = "pbkdf2-sha256"
# Generated keys carry 380 bits of entropy, so the work factor only guards imported weak keys;
# it is kept low enough that an uncached check costs milliseconds, and is stored per hash.
DEFAULT_ITERATIONS = 20_000
SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class AuthKey:
    """A namespace's credentials: a UUID and a 64-character secret. `repr` hides the key."""

    uuid: str
    key: str = field(repr=False)

    def __post_init__(self) -> None:
        try:
            parsed = uuid.UUID(self.uuid)
        except ValueError:
            raise ModelError("authorization key malformed") from None
        if str(parsed) != self.uuid.lower() or len(self.key) != KEY_LENGTH:
            raise ModelError("authorization key malformed")
        if any(ch not in KEY_ALPHABET for ch in self.key):
            raise ModelError("authorization key malformed")

    @classmethod
    def parse(cls, text: str) -> AuthKey:
        """Parse `uuid:key`."""
        user, sep, key = text.partition(":")
        if not sep:
            raise ModelError("authorization key malformed")
        return cls(user, key)

    @classmethod
    def generate(cls) -> AuthKey:
        """A fresh random key."""
        return cls(
            str(uuid.uuid4()), "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))
        )

    def compact(self) -> str:
        """`uuid:key`, the form of `.wskprops`' AUTH."""
        return f"{self.uuid}:{self.key}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_key(key: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """A self-describing hash `pbkdf2-sha256$<iterations>$<salt>$<digest>` of `key`."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", key.encode(), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_key(key: str, stored: str) -> bool:
    """True iff `key` hashes to `stored`; a malformed `stored` never verifies."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != HASH_SCHEME:
            return False
        expected = _unb64(digest)
        actual = hashlib.pbkdf2_hmac("sha256", key.encode(), _unb64(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as: the subject (user), its namespace and its key's uuid and hash."""

    ENTITY_TYPE: ClassVar[str] = "subject"

    subject: str
    namespace: str
    uuid: str
    key_hash: str = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.subject) < SUBJECT_MIN_LENGTH:
            raise ModelError(f"subject must be at least {SUBJECT_MIN_LENGTH} characters")
        validate_namespace(self.namespace)

    @classmethod
    def create(
        cls, subject: str, namespace: str, key: AuthKey, *, iterations: int = DEFAULT_ITERATIONS
    ) -> Identity:
        """The identity to store for `key` (the raw key is not kept)."""
        return cls(subject, namespace, key.uuid, hash_key(key.key, iterations=iterations))

    def authenticates(self, key: AuthKey) -> bool:
        """True iff `key` is this identity's key."""
        same_uuid = hmac.compare_digest(key.uuid.lower().encode(), self.uuid.lower().encode())
        return verify_key(key.key, self.key_hash) and same_uuid

    def doc_id(self) -> str:
        """The id of the stored document: the subject."""
        return self.subject

    def to_doc(self) -> JsonObject:
        """`{"subject", "namespace", "uuid", "key": <hash>, "blocked": false, "entityType"}`."""
        return {
            "subject": self.subject,
            "namespace": self.namespace,
            "uuid": self.uuid,
            "key": self.key_hash,
            "blocked": False,
            ENTITY_TYPE_FIELD: self.ENTITY_TYPE,
        }

    @classmethod
    def from_doc(cls, doc: JsonObject) -> Self:
        """Restore the identity `to_doc` stored; a blocked subject has none (ModelError)."""
        body = as_document(doc, cls.ENTITY_TYPE)
        if body.get("blocked", False) is not False:
            raise ModelError(f"subject '{body.get('subject')}' is blocked")
        return cls(
            req_str(body, "subject"),
            req_str(body, "namespace"),
            req_str(body, "uuid"),
            req_str(body, "key"),
        )
