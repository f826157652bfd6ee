"""What both document stores share: checks, index evaluation and CouchDB view collation.

An index holds the documents whose ``match`` fields all equal their values (strictly: ``1``
is not ``true``, a missing field is not ``null``) and keys each by the list of its ``key``
fields (a missing field keys as ``null``). Keys order by CouchDB's collation: ``null`` <
``false`` < ``true`` < numbers < strings < arrays (element by element, shorter first) <
objects. Strings compare by code point here and in PouchDB Server; Apache CouchDB uses the
Unicode Collation Algorithm, which agrees for the ASCII names and numeric timestamps the
platform orders by.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from whisk_services.ports.documents import DocumentStoreError, IndexSpec, JsonObject

DESIGN_NAME = "whisk"
"""The one design document (``_design/whisk``) that holds every declared view."""

_VIEW_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_SCALARS = (str, int, float, bool, type(None))


def check_specs(indexes: Sequence[IndexSpec]) -> None:
    """Refuse index specs the stores cannot evaluate alike (a programming error)."""
    names: set[str] = set()
    for spec in indexes:
        if not _VIEW_NAME.match(spec.name):
            raise ValueError(f"index name {spec.name!r} is not a plain identifier")
        if spec.name in names:
            raise ValueError(f"index {spec.name!r} is declared twice")
        names.add(spec.name)
        if not spec.key:
            raise ValueError(f"index {spec.name!r} has no key fields")
        for name, value in spec.match.items():
            if not isinstance(value, _SCALARS):
                raise TypeError(f"index {spec.name!r} matches {name} on a non-scalar value")


def check_id(doc_id: str) -> None:
    """Ids are non-empty and do not start with ``_`` (CouchDB reserves those)."""
    if not doc_id or doc_id.startswith("_"):
        raise DocumentStoreError(f"invalid document id {doc_id!r}")


def check_body(body: Mapping[str, Any]) -> None:
    """Bodies hold no top-level ``_`` fields: CouchDB 3 refuses them, PouchDB keeps them."""
    special = [name for name in body if name.startswith("_")]
    if special:
        raise DocumentStoreError(f"document fields may not start with '_': {special}")


def rev_generation(rev: str) -> int | None:
    """The generation of a ``N-hash`` revision, or None when it is not one."""
    head, _, tail = rev.partition("-")
    return int(head) if head.isdigit() and tail else None


# --- evaluating an index, as the view's map function does ---------------------------------


def _same(a: Any, b: Any) -> bool:
    """JavaScript's ``===`` on JSON scalars: booleans never equal numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) != isinstance(b, str):
        return False
    return bool(a == b)


def matches(spec: IndexSpec, body: Mapping[str, Any]) -> bool:
    """Whether the index holds a document with this body."""
    return all(name in body and _same(body[name], value) for name, value in spec.match.items())


def emit_key(spec: IndexSpec, body: Mapping[str, Any]) -> list[Any]:
    """The key the index gives the document."""
    return [body.get(name) for name in spec.key]


def map_function(spec: IndexSpec) -> str:
    """The JavaScript map function of the index's view (values JSON-encoded into it)."""
    conditions = " && ".join(
        f"doc[{json.dumps(name)}] === {json.dumps(value)}" for name, value in spec.match.items()
    )
    fields = ", ".join(f"field({json.dumps(name)})" for name in spec.key)
    return (
        "function (doc) {\n"
        "  function field(name) { return doc[name] === undefined ? null : doc[name]; }\n"
        f"  if ({conditions or 'true'}) {{ emit([{fields}], null); }}\n"
        "}"
    )


def design_document(indexes: Sequence[IndexSpec]) -> JsonObject:
    """The design document body (without ``_id``/``_rev``) holding one view per index."""
    return {
        "language": "javascript",
        "views": {spec.name: {"map": map_function(spec), "reduce": "_count"} for spec in indexes},
    }


# --- ranges ---------------------------------------------------------------------------------


def key_range(
    spec: IndexSpec, prefix: Sequence[Any], since: Any, upto: Any, *, descending: bool
) -> tuple[list[Any], list[Any]]:
    """The view's ``startkey`` and ``endkey``, both inclusive, in the order of the scan.

    ``[*prefix]`` sorts before every longer key with that prefix, ``[*prefix, {}]`` after
    every one whose next element is a scalar: the low and high ends when a bound is absent.
    """
    if len(prefix) > len(spec.key):
        raise ValueError(f"index {spec.name!r} has {len(spec.key)} key fields, not {len(prefix)}")
    bounded = since is not None or upto is not None
    if bounded and len(prefix) != len(spec.key) - 1:
        raise ValueError(
            f"since/upto bound the last key field of {spec.name!r}: "
            f"the prefix needs {len(spec.key) - 1} fields"
        )
    low = [*prefix] if since is None else [*prefix, since]
    high: list[Any] = [*prefix, {}] if upto is None else [*prefix, upto]
    return (high, low) if descending else (low, high)


def collation_key(value: Any) -> tuple[Any, ...]:
    """A Python sort key that orders JSON values as CouchDB views do."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, list | tuple):
        return (4, tuple(collation_key(item) for item in value))
    if isinstance(value, dict):
        return (5, tuple((collation_key(k), collation_key(v)) for k, v in value.items()))
    raise TypeError(f"not a JSON value: {value!r}")
