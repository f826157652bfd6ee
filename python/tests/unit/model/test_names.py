"""Entity names, paths and fully qualified names."""

from __future__ import annotations

import re

import pytest

from whisk_services.model import ModelError
from whisk_services.model.names import (
    EntityPath,
    FullyQualifiedName,
    is_valid_entity_name,
    validate_entity_name,
    validate_namespace,
)

ILLEGAL = "The name of the entity contains illegal characters."
MALFORMED = (
    "The fully qualified name of the entity must contain at least the namespace "
    "and the name of the entity."
)


@pytest.mark.parametrize(
    "name",
    ["a", "_", "hello", "my action", "a.b", "x@y.com", "a&b", "a-", "9", "a" * 256, "n_1-x.y@z"],
)
def test_valid_names(name: str) -> None:
    assert validate_entity_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        " a",
        "a ",
        "-a",
        ".a",
        "a/b",
        "a" * 257,
        "é",
        "a\u00e9b",
        "a\nb",
        "a\tb",
        "a!",
        "a" + "\n",
    ],
)
def test_invalid_names_give_openwhisk_message(name: str) -> None:
    assert not is_valid_entity_name(name)
    with pytest.raises(ModelError) as caught:
        validate_entity_name(name)
    assert caught.value.message == ILLEGAL
    assert str(caught.value) == ILLEGAL


def test_non_string_name_is_rejected() -> None:
    with pytest.raises(ModelError, match="illegal characters"):
        validate_entity_name(42)


def test_bad_namespace_has_its_own_message() -> None:
    with pytest.raises(ModelError) as caught:
        validate_namespace("bad ns ")
    assert caught.value.message == "The namespace contains illegal characters."


def test_model_error_is_a_value_error() -> None:
    assert issubclass(ModelError, ValueError)


@pytest.mark.parametrize(
    ("text", "segments", "rendered"),
    [
        ("guest", ("guest",), "guest"),
        ("/guest", ("guest",), "guest"),
        ("guest/utils", ("guest", "utils"), "guest/utils"),
        ("//guest//utils/", ("guest", "utils"), "guest/utils"),
    ],
)
def test_entity_path_parse_and_render(text: str, segments: tuple[str, ...], rendered: str) -> None:
    path = EntityPath.parse(text)
    assert path.segments == segments
    assert str(path) == rendered
    assert EntityPath.parse(str(path)) == path


def test_entity_path_parts() -> None:
    path = EntityPath.parse("guest/utils")
    assert path.namespace == "guest"
    assert path.package == "utils"
    assert EntityPath.parse("guest").package is None
    assert str(EntityPath.parse("guest").add("utils")) == "guest/utils"


@pytest.mark.parametrize("text", ["", "/", "//", "bad!/x", " ns/x"])
def test_entity_path_rejects_empty_or_bad_namespace(text: str) -> None:
    with pytest.raises(ModelError, match=re.escape("The namespace contains illegal characters.")):
        EntityPath.parse(text)


def test_entity_path_rejects_bad_package() -> None:
    with pytest.raises(ModelError, match=ILLEGAL):
        EntityPath.parse("guest/ bad")


def test_default_namespace_resolves_only_underscore() -> None:
    assert str(EntityPath.parse("_/utils").resolve("alice")) == "alice/utils"
    assert str(EntityPath.parse("bob").resolve("alice")) == "bob"
    assert EntityPath.parse("_").is_default


@pytest.mark.parametrize(
    ("text", "namespace", "package", "name", "rendered"),
    [
        ("/guest/hello", "guest", None, "hello", "/guest/hello"),
        ("guest/hello", "guest", None, "hello", "/guest/hello"),
        ("/guest/utils/echo", "guest", "utils", "echo", "/guest/utils/echo"),
        ("/_/hello", "_", None, "hello", "/_/hello"),
    ],
)
def test_fqn_parse_and_round_trip(
    text: str, namespace: str, package: str | None, name: str, rendered: str
) -> None:
    fqn = FullyQualifiedName.parse(text)
    assert (fqn.namespace, fqn.package, fqn.name) == (namespace, package, name)
    assert str(fqn) == rendered
    assert FullyQualifiedName.parse(str(fqn)) == fqn
    assert FullyQualifiedName.from_api(fqn.to_api()) == fqn


def test_fqn_bare_name_needs_a_default_namespace() -> None:
    assert str(FullyQualifiedName.parse("hello", "alice")) == "/alice/hello"
    with pytest.raises(ModelError) as caught:
        FullyQualifiedName.parse("hello")
    assert caught.value.message == MALFORMED


def test_fqn_resolves_default_namespace() -> None:
    fqn = FullyQualifiedName.parse("/_/utils/echo").resolve("alice")
    assert str(fqn) == "/alice/utils/echo"
    assert fqn.as_path() == "alice/utils/echo"
    assert fqn.to_api() == {"path": "alice/utils", "name": "echo"}


@pytest.mark.parametrize("text", ["", "/", "/a/b/c/d", "a/b/c/d/e", 7, None])
def test_fqn_rejects_wrong_segment_counts(text: object) -> None:
    with pytest.raises(ModelError) as caught:
        FullyQualifiedName.parse(text)
    assert caught.value.message == MALFORMED


def test_fqn_rejects_bad_segments() -> None:
    with pytest.raises(ModelError, match=ILLEGAL):
        FullyQualifiedName.parse("/guest/bad name ")
    with pytest.raises(ModelError, match="namespace contains illegal"):
        FullyQualifiedName.parse("/-guest/x")


def test_fqn_from_api_rejects_wrong_shapes() -> None:
    for value in ("x", {"path": "guest"}, {"name": "x"}, {"path": 1, "name": "x"}):
        with pytest.raises(ModelError, match="fully qualified name"):
            FullyQualifiedName.from_api(value)
