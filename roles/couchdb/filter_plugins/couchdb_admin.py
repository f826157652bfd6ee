"""Ansible filter of the couchdb role: the server admin's password as CouchDB stores it.

CouchDB and PouchDB Server keep an admin as ``-pbkdf2-<derived key>,<salt>,<rounds>``:
PBKDF2-HMAC-SHA1 of the password over the salt's text, 20 bytes, in hex. A hash with a fresh
salt differs on every run, so ``couchdb_admin_hash`` first checks the hash the server already
has: when it still belongs to the password (and uses the rounds asked for) it is returned
unchanged, and the config file the role writes stays the same. Otherwise a new salt is drawn.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any

_STORED = re.compile(r"^-pbkdf2-(?P<key>[0-9a-f]+),(?P<salt>[0-9a-f]+),(?P<rounds>[0-9]+)$")
_KEY_BYTES = 20


def _derive(password: str, salt: str, rounds: int) -> str:
    return hashlib.pbkdf2_hmac("sha1", password.encode(), salt.encode(), rounds, _KEY_BYTES).hex()


def couchdb_admin_hash(password: Any, stored: Any = "", rounds: Any = 10) -> str:
    """``stored`` when it is a PBKDF2 hash of ``password`` with ``rounds``; else a new hash."""
    password, rounds = str(password), int(rounds)
    if not password:
        raise ValueError("couchdb_admin_hash: the password is empty")
    match = _STORED.match(str(stored or ""))
    if match and int(match["rounds"]) == rounds:
        derived = _derive(password, match["salt"], rounds)
        if hmac.compare_digest(derived, match["key"]):
            return str(stored)
    salt = secrets.token_hex(16)
    return f"-pbkdf2-{_derive(password, salt, rounds)},{salt},{rounds}"


class FilterModule:
    """Registers the role's filter with Ansible."""

    def filters(self) -> dict[str, Callable[..., str]]:
        return {"couchdb_admin_hash": couchdb_admin_hash}
