"""Reading what a request carries: its JSON body and OpenWhisk's query parameters."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.errors import ApiError

LIST_LIMIT_DEFAULT = 30
LIST_LIMIT_MAX = 200


def _malformed(detail: str) -> ApiError:
    return ApiError(400, errors.MALFORMED_JSON.format(detail=detail))


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body counts as `{}` (as in OpenWhisk)."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _malformed("the body is not UTF-8") from error
    try:
        body = json.loads(text)
    except ValueError as error:
        raise _malformed(str(error)) from error
    if not isinstance(body, dict):
        raise ApiError(400, errors.NOT_JSON_OBJECT)
    return body


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter: `true` or `false`; anything else is a 400."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"true", "false"}:
        return raw.lower() == "true"
    raise ApiError(400, f"The parameter '{name}' must be true or false.")


def integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ApiError(400, f"The parameter '{name}' must be an integer.") from error
    if not low <= value <= high:
        raise ApiError(400, f"The parameter '{name}' must be between {low} and {high}.")
    return value


def paging(request: web.Request) -> tuple[int, int]:
    """`(skip, limit)`: limit 30 by default, at most 200, and 0 meaning 200."""
    limit = integer(request, "limit", LIST_LIMIT_DEFAULT, 0, LIST_LIMIT_MAX) or LIST_LIMIT_MAX
    skip = integer(request, "skip", 0, 0, 2**31 - 1)
    return skip, limit
