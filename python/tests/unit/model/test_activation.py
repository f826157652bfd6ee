"""Activation ids, responses and record shapes."""

from __future__ import annotations

import re

import pytest

from whisk_services.model import ModelError
from whisk_services.model.activation import (
    Activation,
    ActivationResponse,
    ActivationStatus,
    format_log_line,
    new_activation_id,
    parse_activation_id,
)
from whisk_services.model.parameters import Parameters

AID = "0123456789abcdef0123456789abcdef"


def test_new_ids_are_32_lowercase_hex_and_unique() -> None:
    ids = {new_activation_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert all(parse_activation_id(i) == i for i in ids)


@pytest.mark.parametrize("bad", ["", "xyz", AID[:-1], AID + "0", AID.upper(), 5])
def test_malformed_ids(bad: object) -> None:
    with pytest.raises(ModelError) as caught:
        parse_activation_id(bad)
    assert caught.value.message == "The activation id is not valid."


@pytest.mark.parametrize(
    ("response", "status", "code", "success"),
    [
        (ActivationResponse.success({"a": 1}), "success", 0, True),
        (ActivationResponse.application_error({"error": "x"}), "application error", 1, False),
        (ActivationResponse.developer_error("boom"), "action developer error", 2, False),
        (ActivationResponse.whisk_error("down"), "whisk internal error", 3, False),
    ],
)
def test_response_shapes(
    response: ActivationResponse, status: str, code: int, success: bool
) -> None:
    api = response.to_api()
    assert api["status"] == status
    assert api["success"] is success
    assert "statusCode" not in api
    stored = response.to_store()
    assert stored["statusCode"] == code
    assert ActivationResponse.from_store(stored) == response


def test_response_size_is_compact_json_bytes() -> None:
    assert ActivationResponse.success({"a": 1}).to_api() == {
        "status": "success",
        "success": True,
        "result": {"a": 1},
        "size": 7,
    }


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ({"ok": 1}, ActivationStatus.SUCCESS),
        ([1, 2], ActivationStatus.SUCCESS),
        ({"error": "bad"}, ActivationStatus.APPLICATION_ERROR),
        ("text", ActivationStatus.DEVELOPER_ERROR),
    ],
)
def test_run_result_classification(result: object, status: ActivationStatus) -> None:
    assert ActivationResponse.from_run_result(result).status is status


def test_from_store_rejects_unknown_code() -> None:
    with pytest.raises(ModelError):
        ActivationResponse.from_store({"statusCode": 7})


def _activation(end: int = 1700000000123) -> Activation:
    return Activation(
        namespace="guest",
        name="hello",
        subject="guest",
        activation_id=AID,
        start=1700000000000,
        end=end,
        response=ActivationResponse.success({"a": 1}),
        logs=("2023-11-14T22:13:20.000Z       stdout: hi",),
        annotations=Parameters.from_dict({"path": "guest/hello", "kind": "nodejs:18"}),
    )


def test_activation_api_shape() -> None:
    assert _activation().to_api() == {
        "namespace": "guest",
        "name": "hello",
        "subject": "guest",
        "activationId": AID,
        "version": "0.0.1",
        "publish": False,
        "start": 1700000000000,
        "end": 1700000000123,
        "duration": 123,
        "response": {"status": "success", "success": True, "result": {"a": 1}, "size": 7},
        "logs": ["2023-11-14T22:13:20.000Z       stdout: hi"],
        "annotations": [
            {"key": "path", "value": "guest/hello"},
            {"key": "kind", "value": "nodejs:18"},
        ],
    }


def test_activation_summary_result_and_logs() -> None:
    activation = _activation()
    summary = activation.summary()
    assert summary["statusCode"] == 0
    assert "response" not in summary
    assert "logs" not in summary
    assert activation.result_api()["result"] == {"a": 1}
    assert activation.logs_api() == {"logs": list(activation.logs)}


def test_trigger_activation_has_no_end_or_duration() -> None:
    api = _activation(end=0).to_api()
    assert "end" not in api
    assert "duration" not in api


def test_activation_validation() -> None:
    with pytest.raises(ModelError, match="activation end precedes its start"):
        _activation(end=1)


def test_log_line_format() -> None:
    line = format_log_line(1700000000000, "stdout", "hi")
    assert line == "2023-11-14T22:13:20.000Z       stdout: hi"
    assert line.index("stdout") == 31
