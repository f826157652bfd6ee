"""Activation records: the id, the outcome (`response`) and the API shapes of one run.

The stored response carries a numeric `statusCode` (0 success, 1 application error, 2 action
developer error, 3 whisk internal error); the API form replaces it by `status` and `success`.
An activation whose `end` is 0 (a trigger activation) renders without `end` and `duration`.
The stored document (`to_doc`) is the API record with the stored response, `end` always
present, and `entityType`; its id is `<namespace>/<activationId>`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, ClassVar, Self

from whisk_services.model._json import (
    ENTITY_TYPE_FIELD,
    JsonObject,
    as_document,
    as_int,
    as_object,
    as_str_list,
    opt_bool,
    opt_str,
    req_str,
)
from whisk_services.model.errors import ACTIVATION_ID_ILLEGAL, ModelError
from whisk_services.model.parameters import Parameters
from whisk_services.model.version import SemVer

_ACTIVATION_ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")
# Log lines start with the timestamp left-justified to this width (a nanosecond ISO instant).
LOG_TIMESTAMP_WIDTH = 30


def new_activation_id() -> str:
    """A fresh random activation id: 32 lowercase hex digits."""
    return uuid.uuid4().hex


def parse_activation_id(text: Any) -> str:
    """Return `text` if it is a well-formed activation id, else raise the 400 message."""
    if not isinstance(text, str) or not _ACTIVATION_ID_RE.match(text):
        raise ModelError(ACTIVATION_ID_ILLEGAL)
    return text


class ActivationStatus(IntEnum):
    """The outcome class of an activation, valued as OpenWhisk's `statusCode`."""

    SUCCESS = 0
    APPLICATION_ERROR = 1
    DEVELOPER_ERROR = 2
    WHISK_ERROR = 3

    @property
    def label(self) -> str:
        """The API's `status` string."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    ActivationStatus.SUCCESS: "success",
    ActivationStatus.APPLICATION_ERROR: "application error",
    ActivationStatus.DEVELOPER_ERROR: "action developer error",
    ActivationStatus.WHISK_ERROR: "whisk internal error",
}


def _json_size(result: Any) -> int:
    return len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass(frozen=True, slots=True)
class ActivationResponse:
    """The outcome of a run: its status and result (a JSON value, usually an object)."""

    status: ActivationStatus
    result: Any = None

    @classmethod
    def success(cls, result: Any) -> ActivationResponse:
        """A successful result."""
        return cls(ActivationStatus.SUCCESS, result)

    @classmethod
    def application_error(cls, result: Any) -> ActivationResponse:
        """The action returned an object with an `error` field."""
        return cls(ActivationStatus.APPLICATION_ERROR, result)

    @classmethod
    def developer_error(cls, message: str) -> ActivationResponse:
        """The action failed to initialise or run properly (bad JSON, timeout, OOM...)."""
        return cls(ActivationStatus.DEVELOPER_ERROR, {"error": message})

    @classmethod
    def whisk_error(cls, message: str) -> ActivationResponse:
        """The platform failed."""
        return cls(ActivationStatus.WHISK_ERROR, {"error": message})

    @classmethod
    def from_run_result(cls, result: Any) -> ActivationResponse:
        """Classify a `/run` 200 answer: an object with `error` is an application error."""
        if isinstance(result, dict) and "error" in result:
            return cls.application_error(result)
        if isinstance(result, dict | list):
            return cls.success(result)
        return cls.developer_error("The action did not produce a valid JSON response.")

    @property
    def is_success(self) -> bool:
        """True iff status is success."""
        return self.status is ActivationStatus.SUCCESS

    @property
    def size(self) -> int | None:
        """Bytes of the compact JSON result, None without a result."""
        return None if self.result is None else _json_size(self.result)

    def to_api(self) -> JsonObject:
        """`{"status", "success", "result"[, "size"]}`."""
        out: JsonObject = {
            "status": self.status.label,
            "success": self.is_success,
            "result": self.result,
        }
        if self.size is not None:
            out["size"] = self.size
        return out

    def to_store(self) -> JsonObject:
        """The stored form `{"statusCode", "result"[, "size"]}`."""
        out: JsonObject = {"statusCode": int(self.status), "result": self.result}
        if self.size is not None:
            out["size"] = self.size
        return out

    @classmethod
    def from_store(cls, value: JsonObject) -> ActivationResponse:
        """Read the stored form."""
        try:
            status = ActivationStatus(value["statusCode"])
        except (KeyError, ValueError):
            raise ModelError("activation response malformed") from None
        return cls(status, value.get("result"))


def format_log_line(timestamp_ms: int, stream: str, text: str) -> str:
    """One log line as OpenWhisk stores it: `<ISO time padded to 30> <stream>: <text>`."""
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    iso = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return f"{iso.ljust(LOG_TIMESTAMP_WIDTH)} {stream}: {text}"


@dataclass(frozen=True, slots=True)
class Activation:
    """The record of one activation of an action or trigger."""

    ENTITY_TYPE: ClassVar[str] = "activation"

    namespace: str
    name: str
    subject: str
    activation_id: str
    start: int
    end: int
    response: ActivationResponse
    version: SemVer = field(default_factory=SemVer)
    publish: bool = False
    cause: str | None = None
    logs: tuple[str, ...] = ()
    annotations: Parameters = field(default_factory=Parameters)

    def __post_init__(self) -> None:
        parse_activation_id(self.activation_id)
        if self.cause is not None:
            parse_activation_id(self.cause)
        if self.end and self.end < self.start:
            raise ModelError("activation end precedes its start")

    @property
    def duration(self) -> int | None:
        """`end - start` in ms, None when the activation has no end (trigger activations)."""
        return self.end - self.start if self.end else None

    def _times(self) -> JsonObject:
        out: JsonObject = {"start": self.start}
        if self.end:
            out["end"] = self.end
            out["duration"] = self.duration
        return out

    def to_api(self) -> JsonObject:
        """The full record of `GET .../activations/{id}`."""
        out: JsonObject = {
            "namespace": self.namespace,
            "name": self.name,
            "subject": self.subject,
            "activationId": self.activation_id,
            "version": str(self.version),
            "publish": self.publish,
            **self._times(),
        }
        if self.cause is not None:
            out["cause"] = self.cause
        out["response"] = self.response.to_api()
        out["logs"] = list(self.logs)
        out["annotations"] = self.annotations.to_api()
        return out

    def summary(self) -> JsonObject:
        """The list shape: no response or logs, a top-level numeric `statusCode`."""
        out: JsonObject = {
            "namespace": self.namespace,
            "name": self.name,
            "version": str(self.version),
            "publish": self.publish,
            "annotations": self.annotations.to_api(),
            "activationId": self.activation_id,
            **self._times(),
        }
        if self.cause is not None:
            out["cause"] = self.cause
        out["statusCode"] = int(self.response.status)
        return out

    def result_api(self) -> JsonObject:
        """`GET .../activations/{id}/result`: the response without its status code."""
        return self.response.to_api()

    def logs_api(self) -> JsonObject:
        """`GET .../activations/{id}/logs`."""
        return {"logs": list(self.logs)}

    def doc_id(self) -> str:
        """The id of the stored document: `<namespace>/<activationId>`."""
        return f"{self.namespace}/{self.activation_id}"

    def to_doc(self) -> JsonObject:
        """The stored document: `response` in its stored form, `end` even when 0."""
        return {
            **self.to_api(),
            "end": self.end,
            "response": self.response.to_store(),
            ENTITY_TYPE_FIELD: self.ENTITY_TYPE,
        }

    @classmethod
    def from_doc(cls, doc: JsonObject) -> Self:
        """Restore the activation `to_doc` stored (`duration` and `size` are derived)."""
        body = as_document(doc, cls.ENTITY_TYPE)
        return cls(
            req_str(body, "namespace"),
            req_str(body, "name"),
            req_str(body, "subject"),
            parse_activation_id(body.get("activationId")),
            as_int(body.get("start"), "start"),
            as_int(body.get("end", 0), "end"),
            ActivationResponse.from_store(as_object(body.get("response"), "response")),
            SemVer.parse(body.get("version")),
            bool(opt_bool(body, "publish")),
            opt_str(body, "cause"),
            tuple(as_str_list(body.get("logs", []), "logs")),
            Parameters.from_api(body.get("annotations"), "annotations"),
        )
