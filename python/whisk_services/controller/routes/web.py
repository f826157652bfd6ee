"""`/api/v1/web/{namespace}/{package}/{action}[.ext][/path]`: web actions.

An action annotated `web-export: true` answers plain HTTP requests, without credentials,
under `/api/v1/web/`. The URL's namespace is the action's owner: the activation runs as the
subject owning that namespace (who pays for it), never as the caller. The package
`default` means no package. The name may end in an extension that says how the result
becomes the response (``web_responses``; none means `.http`), and may be followed by a path,
which the action receives as `__ow_path`.

The action's arguments are the query parameters and the body (a JSON object or a form is
merged in; any other body arrives as `__ow_body`, base64-encoded when binary), plus the
request's method, headers and path as `__ow_method`, `__ow_headers`, `__ow_path`, and
`__ow_user` (the caller's namespace) when the request carried valid credentials. A
`raw-http` action gets the query string as `__ow_query` and the body as `__ow_body`
instead. A request may not set the `__ow_` names, nor a `final` action's parameters (400).

`require-whisk-auth: true` admits only requests with valid credentials (of any subject); a
string or number admits only requests whose `X-Require-Whisk-Auth` header equals it (401
otherwise). Unless the action is annotated `web-custom-options: true` (it then answers its
OPTIONS requests itself), the controller answers OPTIONS with 200 and adds CORS headers to
every answer.

The run is blocking, waiting as long as a blocking invoke may; an activation still running
then is a 202. The web API keeps its own answers apart from the REST API's: its middleware
(``web_middleware``) runs instead of the REST middleware for the `/api/v1/web/` paths.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.activator import Activator, Target, merged_parameters, truthy
from whisk_services.controller.context import services
from whisk_services.controller.errors import ApiError
from whisk_services.controller.invocations import Finished
from whisk_services.controller.middleware import (
    REQUEST_ID_HEADER,
    TRANSACTION_KEY,
    Handler,
    error_response,
    transaction_id,
)
from whisk_services.controller.sequences import (
    Conductor,
    component_lookup,
    launch,
    sequence_arguments,
    wait_for_sequence,
)
from whisk_services.controller.targets import resolve_target
from whisk_services.controller.web_responses import (
    PROPERTY_NOT_FOUND,
    is_binary,
    is_json_family,
    media_type_of,
    render,
    split_extension,
)
from whisk_services.model.activation import ActivationStatus, new_activation_id
from whisk_services.model.errors import ModelError
from whisk_services.model.exec import SequenceExec
from whisk_services.model.identity import Identity
from whisk_services.model.names import EntityPath, validate_entity_name, validate_namespace
from whisk_services.ports.documents import DocumentStoreError
from whisk_services.ports.messaging import MessagingError

routes = web.RouteTableDef()
log = logging.getLogger("whisk.controller")

WEB_PREFIX = "/api/v1/web/"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
DEFAULT_PACKAGE = "default"
ACTIVATION_ID_HEADER = "x-openwhisk-activation-id"
SECRET_HEADER = "X-Require-Whisk-Auth"  # noqa: S105 - a header name
MAX_PAYLOAD_BYTES = 1024 * 1024

RESPONSE_NOT_READY = "Response not yet ready."
ERROR_PROCESSING = "There was an error processing your request."

# The `__ow_` arguments the controller sets; a request may not set them itself.
METHOD, HEADERS, PATH, USER, QUERY, BODY = (
    f"__ow_{f}" for f in ("method", "headers", "path", "user", "query", "body")
)
RESERVED = frozenset({METHOD, HEADERS, PATH, USER, QUERY, BODY})

CORS_ALLOW_METHODS = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
CORS_ALLOW_HEADERS = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"

_REQUEST_ID = re.compile(r"\A[A-Za-z0-9._-]{1,128}\Z")


@dataclass(frozen=True, slots=True)
class WebName:
    """What a web URL names: the action (its namespace, package or None, and name), the
    extension that shapes the answer, and the path after it (`__ow_path`)."""

    namespace: str
    package: str | None
    name: str
    extension: str
    rest: str

    @property
    def path(self) -> EntityPath:
        if self.package is None:
            return EntityPath((self.namespace,))
        return EntityPath((self.namespace, self.package))


def web_name(namespace: str, package: str, tail: str) -> WebName:
    """Read the URL's parts; names that cannot exist are a 404 (as an unknown action)."""
    segment, slash, rest = tail.partition("/")
    name, extension = split_extension(segment)
    try:
        validate_namespace(namespace)
        pkg = None if package == DEFAULT_PACKAGE else validate_entity_name(package)
        validate_entity_name(name)
    except ModelError as error:
        raise ApiError(404, errors.NOT_FOUND) from error
    return WebName(namespace, pkg, name, extension, slash + rest)


# --- the middleware of the web API ------------------------------------------------------------


@web.middleware
async def web_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For `/api/v1/web/` paths: the transaction id and the error body, without the REST
    API's own OPTIONS answer and CORS headers (the web handler sets its own, or lets the
    action answer). Any other path goes on to the REST middleware."""
    if not request.path.startswith(WEB_PREFIX):
        return await handler(request)
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    tid = offered if _REQUEST_ID.match(offered) else secrets.token_hex(16)
    request[TRANSACTION_KEY] = tid
    response: web.StreamResponse
    try:
        # The route's own handler: the REST middleware is left out on purpose.
        response = await request.match_info.handler(request)
    except ApiError as error:
        response = error_response(error.status, error.message, tid)
    except ModelError as error:
        response = error_response(400, error.message, tid)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = errors.NOT_FOUND if error.status == 404 else error.reason
        response = error_response(error.status, message, tid)
    except DocumentStoreError:
        log.exception("[%s] database failure on %s %s", tid, request.method, request.path)
        response = error_response(500, errors.INTERNAL, tid)
    except Exception:
        log.exception("[%s] unhandled error on %s %s", tid, request.method, request.path)
        response = error_response(500, errors.INTERNAL, tid)
    response.headers[REQUEST_ID_HEADER] = tid
    return response


# --- the route --------------------------------------------------------------------------------


async def web_action(request: web.Request) -> web.Response:
    named = web_name(
        request.match_info["namespace"], request.match_info["package"], request.match_info["tail"]
    )
    owner = await namespace_owner(request, named.namespace)
    target = await exported_action(request, owner, named)
    custom_options = target.action.annotations.get("web-custom-options") is True
    try:
        if request.method == "OPTIONS" and not custom_options:
            response = web.Response(status=200)
        else:
            # An action answering OPTIONS itself gets them whatever its authentication.
            check_auth = not (custom_options and request.method == "OPTIONS")
            response = await _invoke(request, named, owner, target, check_auth)
    except ApiError as error:
        response = error_response(error.status, error.message, transaction_id(request))
    if not custom_options:
        for name, value in cors_headers(request).items():
            response.headers.setdefault(name, value)
    return response


for _method in METHODS:
    if _method != "HEAD":  # aiohttp serves HEAD with the GET route
        routes.route(_method, WEB_PREFIX + "{namespace}/{package}/{tail:.+}")(web_action)


def cors_headers(request: web.Request) -> dict[str, str]:
    """OpenWhisk's CORS headers for web actions (the headers a preflight asks for, if any)."""
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
        "Access-Control-Allow-Headers": request.headers.get(
            "Access-Control-Request-Headers", CORS_ALLOW_HEADERS
        ),
    }


async def namespace_owner(request: web.Request, namespace: str) -> Identity:
    """The identity of a subject owning ``namespace`` (a blocked one does not count): the
    activation runs, and is paid for, as it. 404 when there is none."""
    owner = await services(request).authenticator.owner_of(namespace)
    if owner is None:
        raise ApiError(404, errors.NOT_FOUND)
    return owner


async def exported_action(request: web.Request, owner: Identity, named: WebName) -> Target:
    """The web-exported action the URL names, read with its owner's rights (a binding leads
    to the bound package's action). 404 for anything else, leaking nothing."""
    try:
        target = await resolve_target(request, owner, named.path, named.name)
    except ApiError as error:
        if error.status in (403, 404, 409, 422):
            raise ApiError(404, errors.NOT_FOUND) from error
        raise
    if target.action.annotations.get("web-export") is not True:
        raise ApiError(404, errors.NOT_FOUND)
    return target


async def caller_of(request: web.Request) -> Identity | None:
    """The subject whose valid Basic credentials the request carries; None when it carries
    none or invalid ones (a web request is then anonymous, as in OpenWhisk)."""
    header = request.headers.get("Authorization")
    if not header or not header.startswith("Basic "):
        return None
    try:
        return await services(request).authenticator.identify(header)
    except ApiError:
        return None


def authorized(required: Any, request: web.Request, caller: Identity | None) -> bool:
    """Whether the request passes the action's `require-whisk-auth` annotation."""
    if required is None or required is False:
        return True
    if required is True:
        return caller is not None
    if isinstance(required, str):
        expected = required
    elif isinstance(required, int | float):
        expected = str(required)
    else:
        return False
    offered = request.headers.get(SECRET_HEADER)
    return offered is not None and hmac.compare_digest(offered.encode(), expected.encode())


async def _invoke(
    request: web.Request, named: WebName, owner: Identity, target: Target, check_auth: bool
) -> web.Response:
    caller = await caller_of(request)
    if check_auth and not authorized(
        target.action.annotations.get("require-whisk-auth"), request, caller
    ):
        raise ApiError(401, errors.UNAUTHORIZED)
    raw_http = target.action.annotations.get("raw-http") is True
    payload = await web_arguments(request, named, target, caller, raw_http)
    activation_id, finished = await run_web_action(request, owner, target, payload)
    response = answer(named.extension, finished, transaction_id(request))
    response.headers[ACTIVATION_ID_HEADER] = activation_id
    return response


# --- the action's arguments -------------------------------------------------------------------


_ABSENT = object()


async def request_body(request: web.Request, raw_http: bool) -> Any:
    """The body as the action sees it: ``_ABSENT`` when empty; a JSON value (JSON media
    types) or a form's fields as an object, unless the action is raw; else a string, in
    base64 when the media type is binary (or JSON, for a raw action, as in OpenWhisk)."""
    data = await request.read()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ApiError(413, errors.too_large("Request", len(data), MAX_PAYLOAD_BYTES))
    if not data:
        return _ABSENT
    media_type = media_type_of(request.headers.get("Content-Type", "application/octet-stream"))
    if not raw_http and is_json_family(media_type):
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ApiError(400, errors.MALFORMED_JSON.format(detail=str(error))) from error
    if not raw_http and media_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True))
    if is_binary(media_type) or media_type == "application/json":
        return base64.b64encode(data).decode()
    return data.decode("utf-8", "replace")


async def web_arguments(
    request: web.Request,
    named: WebName,
    target: Target,
    caller: Identity | None,
    raw_http: bool,
) -> dict[str, Any]:
    """The payload of the activation (the action's parameters are merged in later): the
    request context, then the query, then the body (the later wins)."""
    body = await request_body(request, raw_http)
    context: dict[str, Any] = {
        METHOD: request.method.lower(),
        HEADERS: {name.lower(): value for name, value in request.headers.items()},
        PATH: named.rest,
    }
    if caller is not None:
        context[USER] = caller.namespace
    if raw_http:
        query = request.raw_path.partition("?")[2]
        return {**context, QUERY: query, BODY: "" if body is _ABSENT else body}
    params: dict[str, Any] = dict(request.query)
    if isinstance(body, dict):
        params.update(body)
    _refuse_overrides(params, target)
    if body is not _ABSENT and not isinstance(body, dict):
        params[BODY] = body
    return {**context, **params}


def _refuse_overrides(params: dict[str, Any], target: Target) -> None:
    """400 when the query or body sets an `__ow_` name or a parameter a `final` action
    defines."""
    protected = set(RESERVED)
    if truthy(target.action.annotations.get("final")):
        merged = merged_parameters(target.action, target.inherited)
        protected.update(p.key for p in merged if p.value is not None)
    if not protected.isdisjoint(params):
        raise ApiError(400, errors.RESERVED_PARAMETERS)


# --- the run and its answer -------------------------------------------------------------------


async def run_web_action(
    request: web.Request, owner: Identity, target: Target, payload: dict[str, Any]
) -> tuple[str, Finished | None]:
    """Send the activation as the owner and wait for it (as long as a blocking invoke
    waits): its id and how it finished (None when the wait ended first).

    The one place a web activation is sent: the owner's throttles apply (429), as OpenWhisk
    charges web invocations to the owner.
    """
    invocations = services(request).invocations
    if invocations is None:
        raise ApiError(503, errors.NO_INVOKERS)
    throttles = services(request).throttles
    if throttles is not None:
        await throttles.check_invoke(owner)
    activator = Activator(invocations)
    tid = transaction_id(request)
    if isinstance(target.action.exec, SequenceExec):
        return await _run_sequence(request, activator, owner, target, payload)
    # No API key: the owner's key is stored only as a hash, and the caller's is not theirs.
    message = activator.message(owner, target, payload, transid=tid, blocking=True)
    try:
        return message.activation_id, await activator.run(message, target.action.limits, None)
    except MessagingError as error:
        log.warning("[%s] activation %s not queued: %s", tid, message.activation_id, error)
        raise ApiError(503, errors.QUEUE_UNAVAILABLE) from error


async def _run_sequence(
    request: web.Request,
    activator: Activator,
    owner: Identity,
    target: Target,
    payload: dict[str, Any],
) -> tuple[str, Finished | None]:
    accepted_ms = time.time_ns() // 1_000_000
    args = sequence_arguments(target.action, payload, target.inherited)
    conductor = Conductor(
        activator,
        services(request).activations,
        component_lookup(request, owner),
        owner,
        transaction_id(request),
    )
    activation_id = new_activation_id()
    task = launch(
        services(request).background,
        conductor.run(target, args, activation_id, accepted_ms=accepted_ms),
        f"web sequence {target.fqn} {activation_id}",
    )
    invocations = activator.invocations
    return activation_id, await wait_for_sequence(task, invocations.max_wait_s, invocations)


def answer(extension: str, finished: Finished | None, tid: str) -> web.Response:
    """The response of a run: the result (or, for an application error, its `error`
    field) shaped by the extension; 400 for any other failure; 202 while still running."""
    if finished is None:
        return error_response(202, RESPONSE_NOT_READY, tid)
    response = finished.record.get("response")
    result = response.get("result") if isinstance(response, dict) else None
    if finished.status == ActivationStatus.SUCCESS:
        return render(extension, {} if result is None else result, tid)
    if finished.status == ActivationStatus.APPLICATION_ERROR:
        if isinstance(result, dict) and "error" in result:
            return render(extension, result["error"], tid)
        return error_response(404, PROPERTY_NOT_FOUND, tid)
    return error_response(400, ERROR_PROCESSING, tid)
