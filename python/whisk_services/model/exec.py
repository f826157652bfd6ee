"""The `exec` of an action: what runs (a runtime kind with code, a blackbox image, a sequence).

Kinds are the platform's list from DESIGN.md §3. A `<family>:default` kind resolves to the
family's default when read, as OpenWhisk's runtime manifest does, so stored actions name a
concrete kind. `binary` is computed from the code (base64 text), never taken from the request.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from whisk_services.model._json import JsonObject, as_object, opt_str
from whisk_services.model.errors import SEQUENCE_NO_COMPONENT, SEQUENCE_TOO_LONG, ModelError
from whisk_services.model.names import FullyQualifiedName

BLACKBOX = "blackbox"
SEQUENCE = "sequence"
RUNTIME_KINDS = ("nodejs:18", "python:3.11", "python:3")
DEFAULT_KINDS = {"nodejs:default": "nodejs:18", "python:default": "python:3.11"}
SUPPORTED_KINDS = (*RUNTIME_KINDS, *DEFAULT_KINDS, BLACKBOX, SEQUENCE)
SEQUENCE_MAX_LENGTH = 50

_BASE64_RE = re.compile(r"\A[A-Za-z0-9+/\r\n]*={0,2}\Z")


def is_binary_code(code: str) -> bool:
    """True iff `code` is non-empty base64 text (length a multiple of 4), e.g. a zip file."""
    text = code.strip()
    compact = text.replace("\r", "").replace("\n", "")
    if not compact or len(compact) % 4 or not _BASE64_RE.match(text):
        return False
    try:
        base64.b64decode(compact, validate=True)
    except binascii.Error:
        return False
    return True


def resolve_kind(kind: Any) -> str:
    """Return the concrete kind for `kind`, or raise naming the unsupported kind."""
    if not isinstance(kind, str) or kind not in SUPPORTED_KINDS:
        raise ModelError(f"The specified runtime '{kind}' is not supported by this platform.")
    return DEFAULT_KINDS.get(kind, kind)


def _with_code(
    head: JsonObject, code: str | None, main: str | None, binary: bool, *, include_code: bool
) -> JsonObject:
    """The API fields an exec with (optional) code adds: code, binary, main."""
    out = dict(head)
    if include_code and code is not None:
        out["code"] = code
    out["binary"] = binary
    if main is not None:
        out["main"] = main
    return out


@dataclass(frozen=True, slots=True)
class CodeExec:
    """Source or base64 (zip) code run by a runtime image of `kind`."""

    kind: str
    code: str
    main: str | None = None
    # True iff the code is base64 (a zip or other binary artifact); decided once, since
    # deciding decodes the whole code (up to 48 MB) and every run and GET asks.
    binary: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "binary", is_binary_code(self.code))

    def to_api(self, include_code: bool = True) -> JsonObject:
        """`{"kind", "code", "binary"[, "main"]}`."""
        head: JsonObject = {"kind": self.kind}
        return _with_code(head, self.code, self.main, self.binary, include_code=include_code)


@dataclass(frozen=True, slots=True)
class BlackboxExec:
    """A Docker image implementing the action protocol, optionally given code to /init."""

    image: str
    code: str | None = None
    main: str | None = None
    kind: str = BLACKBOX
    binary: bool = field(init=False, compare=False)  # the code is base64 (decided once)

    def __post_init__(self) -> None:
        object.__setattr__(self, "binary", self.code is not None and is_binary_code(self.code))

    def to_api(self, include_code: bool = True) -> JsonObject:
        """`{"kind": "blackbox", "image", "binary"[, "code"][, "main"]}`."""
        head: JsonObject = {"kind": self.kind, "image": self.image}
        return _with_code(head, self.code, self.main, self.binary, include_code=include_code)


@dataclass(frozen=True, slots=True)
class SequenceExec:
    """An ordered chain of actions; each component's output is the next one's input."""

    components: tuple[FullyQualifiedName, ...]
    kind: str = SEQUENCE

    @property
    def binary(self) -> bool:
        """Sequences have no code."""
        return False

    def to_api(self, include_code: bool = True) -> JsonObject:
        """`{"kind": "sequence", "components": ["/ns/[pkg/]name", ...]}`."""
        del include_code  # a sequence has no code to leave out
        return {"kind": self.kind, "components": [str(c) for c in self.components]}


Exec = CodeExec | BlackboxExec | SequenceExec


def _code(body: JsonObject, kind: str, required: bool) -> str | None:
    code = body.get("code")
    if code is None and not required:
        return None
    if not isinstance(code, str):
        raise ModelError(f"'code' must be a string defined in 'exec' for '{kind}' actions")
    return code


def exec_from_api(
    value: Any, namespace: str, max_sequence_length: int = SEQUENCE_MAX_LENGTH
) -> Exec:
    """Read the `exec` object of a PUT body; `namespace` resolves `_` in sequence components."""
    body = as_object(value, "exec")
    kind = resolve_kind(body.get("kind"))
    main = opt_str(body, "main")
    if kind == SEQUENCE:
        components = body.get("components")
        if not isinstance(components, list):
            raise ModelError("'components' must be an array of action names for 'sequence'")
        if not components:
            raise ModelError(SEQUENCE_NO_COMPONENT)
        if len(components) > max_sequence_length:
            raise ModelError(SEQUENCE_TOO_LONG)
        return SequenceExec(
            tuple(FullyQualifiedName.parse(c).resolve(namespace) for c in components)
        )
    if kind == BLACKBOX:
        image = body.get("image")
        if not isinstance(image, str) or not image.strip():
            raise ModelError("'image' must be a string defined in 'exec' for 'blackbox' actions")
        return BlackboxExec(image, _code(body, kind, required=False), main)
    code = _code(body, kind, required=True)
    assert code is not None
    return CodeExec(kind, code, main)
