"""Shaping the HTTP answer of a web action from its result, by the URL's extension.

`/ns/pkg/action.<ext>` names how the result becomes a response (OpenWhisk's "media
transcoders"): `.json` answers the result object as JSON; `.html`, `.svg` and `.text` answer
one string field of it (`body`, else the field named like the extension) with that media
type; `.http` (also the default when the name ends in no known extension) reads the result
as an HTTP response: `statusCode`, `headers` and `body`. A result that does not fit its
extension is a 400 naming the media type expected.

Each function returns the response to send, errors included (as the usual
`{"error", "code"}` body), so that the caller can add the activation id to every answer
that follows a run.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from whisk_services.controller.middleware import error_response
from whisk_services.model.exec import is_binary_code

HTTP, JSON, HTML, SVG, TEXT = ".http", ".json", ".html", ".svg", ".text"
EXTENSIONS = (HTTP, JSON, HTML, SVG, TEXT)

PROPERTY_NOT_FOUND = "Response does not include requested property."
HTTP_UNKNOWN_CONTENT_TYPE = "Response did not specify a known content-type."
HTTP_CONTENT_TYPE_ERROR = "Response type in header did not match generated content type."

_MEDIA_TYPE = re.compile(r"\A[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+\Z")
# Media types whose content is text (everything else is binary and travels base64-encoded
# through an action's arguments and result).
_TEXT_APPLICATION_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/x-www-form-urlencoded",
        "application/xhtml+xml",
        "application/graphql",
    }
)


def invalid_media(media_type: str) -> str:
    """The 400 message of a result that does not fit its extension's media type."""
    return f"Response is not valid '{media_type}'."


def split_extension(name: str) -> tuple[str, str]:
    """`hello.json` → (`hello`, `.json`); a name without a known extension is `.http`
    (its dots, if any, belong to the action's name)."""
    for extension in EXTENSIONS:
        if name.endswith(extension) and len(name) > len(extension):
            return name[: -len(extension)], extension
    return name, HTTP


def media_type_of(content_type: str) -> str:
    """`text/html; charset=utf-8` → `text/html` (lower case)."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json_family(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def is_binary(media_type: str) -> bool:
    """True for media types whose content is not text (images, octet streams, ...)."""
    if media_type.startswith("text/") or is_json_family(media_type):
        return False
    return media_type not in _TEXT_APPLICATION_TYPES and not media_type.endswith("+xml")


def render(extension: str, result: Any, tid: str) -> web.Response:
    """The response for ``result`` (the action's result, or the `error` of an application
    error) as ``extension`` wants it."""
    return _RENDERERS[extension](result, tid)


def _field(result: Any, name: str) -> Any:
    """`body`, else `name`, of an object result; a non-object result stands for itself."""
    if isinstance(result, dict):
        return result.get("body", result.get(name))
    return result


def _as_json(result: Any, tid: str) -> web.Response:
    if isinstance(result, dict | list):
        return web.json_response(result)
    return error_response(400, invalid_media("application/json"), tid)


def _as_string(field: str, content_type: str) -> Callable[[Any, str], web.Response]:
    def render_field(result: Any, tid: str) -> web.Response:
        value = _field(result, field)
        if isinstance(value, str):
            return web.Response(text=value, content_type=content_type, charset="utf-8")
        return error_response(400, invalid_media(content_type), tid)

    return render_field


def _as_text(result: Any, tid: str) -> web.Response:
    if isinstance(result, dict) and "body" not in result and "text" not in result:
        return error_response(404, PROPERTY_NOT_FOUND, tid)
    value = _field(result, "text")
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict | list):
        text = json.dumps(value, indent=2)
    else:
        text = json.dumps(value)  # numbers, booleans, null as JSON writes them
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


class _InvalidResultError(Exception):
    """The result is not a valid HTTP response (the 400 ``message``)."""

    def __init__(self, message: str = invalid_media("message/http")) -> None:
        super().__init__(message)
        self.message = message


def _as_http(result: Any, tid: str) -> web.Response:
    try:
        return _http_response(result)
    except _InvalidResultError as invalid:
        return error_response(400, invalid.message, tid)


def _http_response(result: Any) -> web.Response:
    if not isinstance(result, dict):
        raise _InvalidResultError
    headers = _headers(result.get("headers"))
    status = _status(result.get("statusCode"))
    content_types = headers.popall("Content-Type", [])
    content_type = content_types[-1] if content_types else None
    body = result.get("body")
    if body is None or body == "":
        # An empty answer has no content type, whatever the headers said.
        return web.Response(status=204 if status is None else status, headers=headers)
    code = 200 if status is None else status
    if isinstance(body, str):
        media_type = _media_type(content_type, "text/html")
        if is_binary(media_type) or (is_json_family(media_type) and is_binary_code(body)):
            try:
                data = base64.b64decode(body, validate=False)
            except (binascii.Error, ValueError) as error:
                raise _InvalidResultError(HTTP_CONTENT_TYPE_ERROR) from error
        else:
            data = body.encode()
        full = content_type if content_type and ";" in content_type else media_type
        if not is_binary(media_type) and "charset" not in full.lower():
            full = f"{full}; charset=utf-8"
        headers["Content-Type"] = full
        return web.Response(status=code, body=data, headers=headers)
    media_type = _media_type(content_type, "application/json")
    if not is_json_family(media_type):
        raise _InvalidResultError(HTTP_CONTENT_TYPE_ERROR)
    headers["Content-Type"] = f"{media_type}; charset=utf-8"
    return web.Response(status=code, body=json.dumps(body).encode(), headers=headers)


def _media_type(content_type: str | None, default: str) -> str:
    if content_type is None:
        return default
    media_type = media_type_of(content_type)
    if not _MEDIA_TYPE.match(media_type):
        raise _InvalidResultError(HTTP_UNKNOWN_CONTENT_TYPE)
    return media_type


def _headers(value: Any) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    if value is None:
        return headers
    if not isinstance(value, dict):
        raise _InvalidResultError
    for name, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            headers.add(name, _header_value(one))
    return headers


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _InvalidResultError


def _status(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _InvalidResultError
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 100 <= value <= 599:
        raise _InvalidResultError
    return value


_RENDERERS: dict[str, Callable[[Any, str], web.Response]] = {
    HTTP: _as_http,
    JSON: _as_json,
    HTML: _as_string("html", "text/html"),
    SVG: _as_string("svg", "image/svg+xml"),
    TEXT: _as_text,
}
