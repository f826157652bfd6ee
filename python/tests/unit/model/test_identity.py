"""Identities and hashed authorization keys."""

from __future__ import annotations

import pytest

from whisk_services.model import ModelError
from whisk_services.model.identity import AuthKey, Identity, hash_key, verify_key

GUEST_UUID = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
GUEST_KEY = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"


def test_parse_and_render_auth_key() -> None:
    key = AuthKey.parse(f"{GUEST_UUID}:{GUEST_KEY}")
    assert key.uuid == GUEST_UUID
    assert key.compact() == f"{GUEST_UUID}:{GUEST_KEY}"
    assert GUEST_KEY not in repr(key)


@pytest.mark.parametrize(
    "text",
    [
        "",
        GUEST_UUID,
        f"not-a-uuid:{GUEST_KEY}",
        f"{GUEST_UUID}:short",
        f"{GUEST_UUID}:{GUEST_KEY[:-1]}!",
        f"{GUEST_UUID.replace('-', '')}:{GUEST_KEY}",
    ],
)
def test_malformed_auth_keys(text: str) -> None:
    with pytest.raises(ModelError, match="authorization key malformed"):
        AuthKey.parse(text)


def test_generated_keys_are_valid_and_distinct() -> None:
    a, b = AuthKey.generate(), AuthKey.generate()
    assert a != b
    assert AuthKey.parse(a.compact()) == a


def test_hash_is_salted_and_verifies() -> None:
    first, second = hash_key(GUEST_KEY, iterations=1000), hash_key(GUEST_KEY, iterations=1000)
    assert first != second
    assert GUEST_KEY not in first
    assert first.startswith("pbkdf2-sha256$1000$")
    assert verify_key(GUEST_KEY, first)
    assert verify_key(GUEST_KEY, second)
    assert not verify_key(GUEST_KEY[:-1] + "x", first)


def test_hash_is_deterministic_for_a_given_salt() -> None:
    salt = b"0123456789abcdef"
    assert hash_key("k", iterations=10, salt=salt) == hash_key("k", iterations=10, salt=salt)


@pytest.mark.parametrize(
    "stored", ["", "plain", "md5$1$aa$bb", "pbkdf2-sha256$x$aa$bb", "pbkdf2-sha256$1$a$b$c"]
)
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert not verify_key(GUEST_KEY, stored)


def test_identity_authenticates_only_its_key() -> None:
    key = AuthKey.parse(f"{GUEST_UUID}:{GUEST_KEY}")
    identity = Identity.create("guest", "guest", key, iterations=1000)
    assert GUEST_KEY not in repr(identity)
    assert identity.authenticates(key)
    assert not identity.authenticates(AuthKey(GUEST_UUID, "x" * 64))
    assert not identity.authenticates(AuthKey(str(AuthKey.generate().uuid), GUEST_KEY))


def test_identity_validation() -> None:
    with pytest.raises(ModelError, match="subject must be at least 5 characters"):
        Identity("abc", "guest", GUEST_UUID, "h")
    with pytest.raises(ModelError, match="namespace contains illegal"):
        Identity("guest", " bad", GUEST_UUID, "h")
