"""Parameters and annotations."""

from __future__ import annotations

import re

import pytest

from whisk_services.model import ModelError
from whisk_services.model.parameters import Parameter, Parameters


def test_round_trip_keeps_order_and_init() -> None:
    api = [
        {"key": "b", "value": {"nested": [1, 2]}},
        {"key": "a", "value": "x", "init": True},
    ]
    params = Parameters.from_api(api)
    assert params.to_api() == api
    assert Parameters.from_api(params.to_api()) == params
    assert params.to_dict() == {"b": {"nested": [1, 2]}, "a": "x"}


def test_later_duplicate_wins_in_place() -> None:
    params = Parameters.from_api([{"key": "a", "value": 1}, {"key": "b"}, {"key": "a", "value": 2}])
    assert params.to_api() == [{"key": "a", "value": 2}, {"key": "b", "value": None}]


def test_merge_other_wins() -> None:
    package = Parameters.from_dict({"x": 1, "y": 1})
    action = Parameters.from_dict({"y": 2, "z": 2})
    assert package.merge(action).to_dict() == {"x": 1, "y": 2, "z": 2}


def test_lookup_and_edits() -> None:
    params = Parameters.from_dict({"a": False})
    assert params.get("a") is False
    assert params.get("missing", "d") == "d"
    assert "a" in params
    assert "b" not in params
    assert params.set_default("a", True).get("a") is False
    assert params.set("a", True).get("a") is True
    assert len(params.without(["a"])) == 0
    assert [p.key for p in params.set("b", 1)] == ["a", "b"]


def test_null_is_empty() -> None:
    assert Parameters.from_api(None) == Parameters()


@pytest.mark.parametrize("value", [{"a": 1}, [{"value": 1}], [{"key": 1, "value": 1}], ["a"], "x"])
def test_malformed_lists_are_rejected(value: object) -> None:
    with pytest.raises(
        ModelError, match=re.escape("'annotations' must be an array of key/value objects.")
    ):
        Parameters.from_api(value, "annotations")


def test_init_must_be_boolean() -> None:
    with pytest.raises(ModelError, match="'init' must be a boolean"):
        Parameters.from_api([{"key": "a", "value": 1, "init": "yes"}])


def test_direct_construction_rejects_duplicate_keys() -> None:
    with pytest.raises(ModelError, match="unique"):
        Parameters((Parameter("a", 1), Parameter("a", 2)))
