"""Request-wide behaviour: transaction ids, CORS, and one error body for every failure.

Each request gets a transaction id (the caller's `X-Request-ID`, else a new one) that is
echoed in the response header and in every error body, and that tags the log lines of the
request. Errors of any origin (handlers, the model, the stores, aiohttp's own 404/405/413)
leave as `{"error", "code"}` with the right status, never as a bare 500 page.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.errors import ApiError
from whisk_services.model.errors import ModelError
from whisk_services.ports.documents import DocumentStoreError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger("whisk.controller")

REQUEST_ID_HEADER = "X-Request-ID"
TRANSACTION_KEY = web.RequestKey("transaction_id", str)
_REQUEST_ID = re.compile(r"\A[A-Za-z0-9._-]{1,128}\Z")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, DELETE, POST, PUT, HEAD",
    "Access-Control-Allow-Headers": (
        "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"
    ),
}

_FRAMEWORK_MESSAGES = {
    404: errors.NOT_FOUND,
    405: errors.METHOD_NOT_ALLOWED,
    413: errors.REQUEST_TOO_LARGE,
}


def transaction_id(request: web.Request) -> str:
    """The transaction id of ``request`` (set by the middleware)."""
    return str(request.get(TRANSACTION_KEY, ""))


def error_response(status: int, message: str, tid: str) -> web.Response:
    """The OpenWhisk error body, with the transaction id as its code."""
    return web.json_response({"error": message, "code": tid}, status=status)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Transaction id, CORS preflight and headers, and the mapping of errors to bodies."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    tid = offered if _REQUEST_ID.match(offered) else secrets.token_hex(16)
    request[TRANSACTION_KEY] = tid
    response: web.StreamResponse
    if request.method == "OPTIONS":
        response = web.Response(status=200)
    else:
        try:
            response = await handler(request)
        except ApiError as error:
            response = error_response(error.status, error.message, tid)
        except ModelError as error:
            response = error_response(400, error.message, tid)
        except web.HTTPException as error:
            if error.status < 400:  # redirects and the like pass through
                raise
            message = _FRAMEWORK_MESSAGES.get(error.status, error.reason)
            response = error_response(error.status, message, tid)
        except DocumentStoreError:
            log.exception("[%s] database failure on %s %s", tid, request.method, request.path)
            response = error_response(500, errors.INTERNAL, tid)
        except Exception:  # a bug: still answer with the error body, and log it
            log.exception("[%s] unhandled error on %s %s", tid, request.method, request.path)
            response = error_response(500, errors.INTERNAL, tid)
    if response.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="OpenWhisk secure realm"'
    response.headers[REQUEST_ID_HEADER] = tid
    if request.path.startswith("/api/"):
        response.headers.update(CORS_HEADERS)
    return response
