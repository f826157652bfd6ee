"""The `exec` of an action."""

from __future__ import annotations

import base64
import re

import pytest

from whisk_services.model import ModelError
from whisk_services.model.exec import (
    BlackboxExec,
    CodeExec,
    SequenceExec,
    exec_from_api,
    is_binary_code,
)

ZIP_B64 = base64.b64encode(b"PK\x03\x04 some zip bytes").decode()


@pytest.mark.parametrize(
    ("kind", "stored"),
    [
        ("nodejs:18", "nodejs:18"),
        ("nodejs:default", "nodejs:18"),
        ("python:3.11", "python:3.11"),
        ("python:3", "python:3"),
        ("python:default", "python:3.11"),
    ],
)
def test_runtime_kinds(kind: str, stored: str) -> None:
    parsed = exec_from_api({"kind": kind, "code": "def main(a): return a"}, "guest")
    assert isinstance(parsed, CodeExec)
    assert parsed.to_api() == {"kind": stored, "code": "def main(a): return a", "binary": False}


@pytest.mark.parametrize("kind", ["nodejs:20", "python:3.10", "java", "", "NODEJS:18", 3, None])
def test_unknown_kind_names_the_kind(kind: object) -> None:
    with pytest.raises(ModelError) as caught:
        exec_from_api({"kind": kind, "code": "x"}, "guest")
    assert caught.value.message == (
        f"The specified runtime '{kind}' is not supported by this platform."
    )


def test_binary_is_computed_and_main_rendered() -> None:
    parsed = exec_from_api(
        {"kind": "python:3.11", "code": ZIP_B64, "binary": False, "main": "handler"}, "guest"
    )
    assert parsed.to_api() == {
        "kind": "python:3.11",
        "code": ZIP_B64,
        "binary": True,
        "main": "handler",
    }
    assert parsed.to_api(include_code=False) == {
        "kind": "python:3.11",
        "binary": True,
        "main": "handler",
    }


@pytest.mark.parametrize(
    ("code", "binary"),
    [
        ("", False),
        ("   ", False),
        ("abc", False),
        ("abcd", True),
        ("function main() {}", False),
        ("ab=d", False),
        (ZIP_B64, True),
        (ZIP_B64 + "\n", True),
    ],
)
def test_is_binary_code(code: str, binary: bool) -> None:
    assert is_binary_code(code) is binary


def test_code_is_required_for_runtimes() -> None:
    with pytest.raises(ModelError) as caught:
        exec_from_api({"kind": "nodejs:18"}, "guest")
    assert (
        caught.value.message == "'code' must be a string defined in 'exec' for 'nodejs:18' actions"
    )


def test_blackbox() -> None:
    parsed = exec_from_api({"kind": "blackbox", "image": "whisk/dockerskeleton"}, "guest")
    assert parsed == BlackboxExec("whisk/dockerskeleton")
    assert parsed.to_api() == {"kind": "blackbox", "image": "whisk/dockerskeleton", "binary": False}
    with_code = exec_from_api(
        {"kind": "blackbox", "image": "img", "code": ZIP_B64, "main": "m"}, "guest"
    )
    assert with_code.to_api() == {
        "kind": "blackbox",
        "image": "img",
        "code": ZIP_B64,
        "binary": True,
        "main": "m",
    }


@pytest.mark.parametrize("body", [{"kind": "blackbox"}, {"kind": "blackbox", "image": " "}])
def test_blackbox_needs_image(body: dict[str, str]) -> None:
    with pytest.raises(ModelError, match="'image' must be a string"):
        exec_from_api(body, "guest")


def test_sequence_resolves_default_namespace() -> None:
    parsed = exec_from_api(
        {"kind": "sequence", "components": ["/_/a", "/bob/utils/b", "carol/c"]}, "alice"
    )
    assert isinstance(parsed, SequenceExec)
    assert parsed.binary is False
    assert parsed.to_api() == {
        "kind": "sequence",
        "components": ["/alice/a", "/bob/utils/b", "/carol/c"],
    }


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ([], "No component specified for the sequence."),
        (["/g/a"] * 51, "Too many actions in the sequence."),
        ("a", "'components' must be an array of action names for 'sequence'"),
        (["a"], "The fully qualified name of the entity must contain at least the namespace"),
    ],
)
def test_sequence_errors(components: object, message: str) -> None:
    with pytest.raises(ModelError) as caught:
        exec_from_api({"kind": "sequence", "components": components}, "guest")
    assert caught.value.message.startswith(message)


def test_exec_must_be_object_and_main_string() -> None:
    with pytest.raises(ModelError, match=re.escape("'exec' must be a JSON object.")):
        exec_from_api("nodejs:18", "guest")
    with pytest.raises(ModelError, match=re.escape("'main' must be a string.")):
        exec_from_api({"kind": "nodejs:18", "code": "x", "main": 1}, "guest")
