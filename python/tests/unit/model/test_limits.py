"""Action limits: defaults, bounds and OpenWhisk's messages."""

from __future__ import annotations

import re

import pytest

from whisk_services.model import ModelError
from whisk_services.model.limits import ActionLimits, LimitBounds


def test_defaults_match_openwhisk() -> None:
    assert ActionLimits().to_api() == {
        "timeout": 60000,
        "memory": 256,
        "logs": 10,
        "concurrency": 1,
    }
    assert ActionLimits.from_api({}) == ActionLimits()


def test_partial_update_keeps_other_fields() -> None:
    base = ActionLimits(timeout=1000, memory=128)
    limits = ActionLimits.from_api({"memory": 512, "unknown": 1}, base)
    assert limits == ActionLimits(timeout=1000, memory=512)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"timeout": 99}, "duration 99 milliseconds below allowed threshold of 100 milliseconds"),
        (
            {"timeout": 300001},
            "duration 300001 milliseconds exceeds allowed threshold of 300000 milliseconds",
        ),
        ({"memory": 64}, "memory 64 MB below allowed threshold of 128 MB"),
        ({"memory": 513}, "memory 513 MB exceeds allowed threshold of 512 MB"),
        ({"logs": -1}, "log size -1 MB below allowed threshold of 0 MB"),
        ({"logs": 11}, "log size 11 MB exceeds allowed threshold of 10 MB"),
        ({"concurrency": 0}, "concurrency 0 below allowed threshold of 1"),
        ({"concurrency": 2}, "concurrency 2 exceeds allowed threshold of 1"),
    ],
)
def test_out_of_range_messages(body: dict[str, int], message: str) -> None:
    with pytest.raises(ModelError) as caught:
        ActionLimits.from_api(body)
    assert caught.value.message == message


@pytest.mark.parametrize("value", ["100", True, 1.5, [1]])
def test_non_integer_values_are_rejected(value: object) -> None:
    with pytest.raises(ModelError, match=re.escape("'limits.timeout' must be an integer.")):
        ActionLimits.from_api({"timeout": value})


def test_integral_float_is_accepted_and_null_is_ignored() -> None:
    assert ActionLimits.from_api({"timeout": 1000.0, "memory": None}).timeout == 1000


def test_wider_bounds_allow_concurrency() -> None:
    bounds = LimitBounds(max_concurrency=500)
    assert ActionLimits.from_api({"concurrency": 200}, bounds=bounds).concurrency == 200
    assert ActionLimits.standard(LimitBounds(std_memory_mb=128)).memory == 128


def test_limits_must_be_an_object() -> None:
    with pytest.raises(ModelError, match=re.escape("'limits' must be a JSON object.")):
        ActionLimits.from_api([1])
