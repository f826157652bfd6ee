"""`/namespaces/{ns}/actions`: list, get, create or update, delete, and invoke actions.

An invoke sends an activation message to an invoker through Kafka (``Invocations``) and
answers at once with the activation id (202), or, when the caller blocks, with the
activation once it completed (or with the id when the wait ends first).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from typing import Any

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.activator import Activator, Target, merged_parameters, truthy
from whisk_services.controller.auth import parse_basic
from whisk_services.controller.context import (
    caller,
    check_action_right,
    check_package_read,
    own_namespace,
    resolve_namespace,
    services,
)
from whisk_services.controller.errors import ApiError
from whisk_services.controller.invocations import Finished
from whisk_services.controller.middleware import transaction_id
from whisk_services.controller.requests import flag, json_object, paging
from whisk_services.controller.routes._stored import remove, replaceable, save, stored
from whisk_services.controller.sequences import (
    Conductor,
    component_lookup,
    launch,
    sequence_arguments,
    wait_for_sequence,
)
from whisk_services.controller.targets import resolve_target
from whisk_services.model.activation import ActivationStatus, new_activation_id
from whisk_services.model.entities import Action, Package
from whisk_services.model.exec import SequenceExec
from whisk_services.model.identity import Identity
from whisk_services.model.names import EntityPath, validate_entity_name
from whisk_services.ports.documents import Document
from whisk_services.ports.messaging import MessagingError

routes = web.RouteTableDef()
log = logging.getLogger("whisk.controller")

ACTIVATION_ID_HEADER = "x-openwhisk-activation-id"

MAX_EXEC_BYTES = 48 * 1024 * 1024
MAX_PARAMETERS_BYTES = 1024 * 1024
MAX_PAYLOAD_BYTES = 1024 * 1024


def _json_size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


async def _located(request: web.Request) -> tuple[EntityPath, str]:
    """The path and name of the action a PUT or DELETE names (the owner's alone, else 403).

    GET and invoke use ``_target``: others may read or invoke an action in a package they
    may read (a published one), and a binding leads to the bound package's action.
    """
    identity = await caller(request)
    path, name = _named(request, identity)
    return await check_action_right(request, identity, path, name, False), name


def _named(request: web.Request, identity: Identity) -> tuple[EntityPath, str]:
    """The path and name the URL gives (`_` resolved, names validated), before any right."""
    segments = request.match_info["name"].split("/")
    if len(segments) > 2 or not all(segments):
        raise ApiError(400, errors.MALFORMED_JSON.format(detail="malformed action name"))
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    for segment in segments:
        validate_entity_name(segment)
    return EntityPath((namespace, *segments[:-1])), segments[-1]


async def _target(request: web.Request, identity: Identity) -> Target:
    """The action a GET or an invoke names, with what it inherits (``resolve_target``)."""
    path, name = _named(request, identity)
    return await resolve_target(request, identity, path, name)


async def _stored_action(request: web.Request, doc_id: str) -> Document:
    return await stored(services(request).whisks, doc_id, Action.ENTITY_TYPE)


async def _check_package(request: web.Request, path: EntityPath) -> None:
    if path.package is None:
        return
    doc = await services(request).whisks.get(str(path))
    if doc is None or doc.body.get("entityType") != "package":
        raise ApiError(404, errors.NOT_FOUND)
    if doc.body.get("binding"):
        raise ApiError(400, errors.BINDING_OPERATION)


def _check_sizes(action: Action) -> None:
    code = action.exec.to_api(True).get("code")
    if isinstance(code, str) and len(code.encode()) > MAX_EXEC_BYTES:
        raise ApiError(413, errors.too_large("Exec code", len(code.encode()), MAX_EXEC_BYTES))
    size = _json_size(action.parameters.to_api()) + _json_size(action.annotations.to_api())
    if size > MAX_PARAMETERS_BYTES:
        raise ApiError(
            413, errors.too_large("Parameters and annotations", size, MAX_PARAMETERS_BYTES)
        )


@routes.get("/api/v1/namespaces/{namespace}/actions")
async def list_actions(request: web.Request) -> web.Response:
    identity = await caller(request)
    namespace = own_namespace(identity, request.match_info["namespace"], "")
    store = services(request).whisks_store
    if flag(request, "count"):
        return web.json_response({"actions": await store.count("actions", [namespace])})
    skip, limit = paging(request)
    docs = await store.query("actions", [namespace], skip=skip, limit=limit)
    return web.json_response([Action.from_doc(doc.body).summary() for doc in docs])


async def _list_package_actions(request: web.Request) -> web.Response:
    """`GET .../actions/{pkg}/`: the actions in a package (a binding lists its bound one's)."""
    identity = await caller(request)
    package = request.match_info["name"][:-1]
    validate_entity_name(package)
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    doc = await check_package_read(request, identity, namespace, package)
    bound = Package.from_doc(doc.body).binding
    path = f"{namespace}/{package}" if bound is None else bound.fqn.as_path()
    store = services(request).whisks_store
    if flag(request, "count"):
        return web.json_response({"actions": await store.count("actions", [path])})
    skip, limit = paging(request)
    docs = await store.query("actions", [path], skip=skip, limit=limit)
    return web.json_response([Action.from_doc(d.body).summary() for d in docs])


@routes.get("/api/v1/namespaces/{namespace}/actions/{name:.+}")
async def get_action(request: web.Request) -> web.Response:
    if request.match_info["name"].endswith("/"):
        return await _list_package_actions(request)
    target = await _target(request, await caller(request))
    include_code = flag(request, "code", default=True)
    # An action in a package shows the package's (and binding's) parameters under its own.
    action = replace(target.action, parameters=merged_parameters(target.action, target.inherited))
    return web.json_response(action.to_api(include_code))


@routes.put("/api/v1/namespaces/{namespace}/actions/{name:.+}")
async def put_action(request: web.Request) -> web.Response:
    path, name = await _located(request)
    body = await json_object(request)
    overwrite = flag(request, "overwrite")
    await _check_package(request, path)
    whisks = services(request).whisks
    doc_id = f"{path}/{name}"
    existing_doc = await replaceable(whisks, doc_id, Action.ENTITY_TYPE, overwrite)
    existing = Action.from_doc(existing_doc.body) if existing_doc else None
    action = Action.from_api(
        body,
        path,
        name,
        existing=existing,
        updated_ms=int(time.time() * 1000),
        bounds=services(request).bounds,
    )
    _check_sizes(action)
    await save(whisks, doc_id, action.to_doc(), existing_doc)
    return web.json_response(action.to_api())


@routes.delete("/api/v1/namespaces/{namespace}/actions/{name:.+}")
async def delete_action(request: web.Request) -> web.Response:
    path, name = await _located(request)
    doc = await _stored_action(request, f"{path}/{name}")
    await remove(services(request).whisks, doc)
    return web.json_response(Action.from_doc(doc.body).to_api())


def _timeout_s(request: web.Request) -> float | None:
    """`?timeout=<ms>` in seconds: a positive integer, or None when absent."""
    raw = request.query.get("timeout")
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) <= 0:
        raise ApiError(400, errors.BAD_TIMEOUT)
    return int(raw) / 1000


def _answer(activation_id: str, finished: Finished | None, result_only: bool) -> web.Response:
    """202 with the id when not (yet) finished; else the record without its logs (or only
    its result): 200 on success, 500 on a whisk error, 502 on the action's own failure."""
    headers = {ACTIVATION_ID_HEADER: activation_id}
    if finished is None:
        return web.json_response({"activationId": activation_id}, status=202, headers=headers)
    status = _STATUS_CODES[finished.status]
    body: Any
    if result_only:
        response = finished.record.get("response")
        result = response.get("result") if isinstance(response, dict) else None
        body = {} if result is None else result
    else:
        body = {**finished.record, "logs": []}
    return web.json_response(body, status=status, headers=headers)


_STATUS_CODES = {
    ActivationStatus.SUCCESS: 200,
    ActivationStatus.APPLICATION_ERROR: 502,
    ActivationStatus.DEVELOPER_ERROR: 502,
    ActivationStatus.WHISK_ERROR: 500,
}


@routes.post("/api/v1/namespaces/{namespace}/actions/{name:.+}")
async def invoke_action(request: web.Request) -> web.Response:
    identity = await caller(request)
    target = await _target(request, identity)
    payload = await request.read()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ApiError(413, errors.too_large("Request", len(payload), MAX_PAYLOAD_BYTES))
    body = await json_object(request)
    result_only = flag(request, "result")
    blocking = result_only or flag(request, "blocking")
    timeout_s = _timeout_s(request)
    action = target.action
    invocations = services(request).invocations
    if invocations is None:
        raise ApiError(503, errors.NO_INVOKERS)
    throttles = services(request).throttles
    if throttles is not None:  # a sequence counts as one invocation
        await throttles.check_invoke(identity)
    activator = Activator(invocations)
    if isinstance(action.exec, SequenceExec):
        return await _invoke_sequence(
            request,
            identity,
            activator,
            target,
            body,
            blocking=blocking,
            result_only=result_only,
            timeout_s=timeout_s,
        )
    api_key = None
    if truthy(action.annotations.get("provide-api-key")):
        api_key = parse_basic(request.headers.get("Authorization")).compact()
    message = activator.message(
        identity,
        target,
        body,
        transid=transaction_id(request),
        blocking=blocking,
        api_key=api_key,
    )
    try:
        if not blocking:
            await activator.start(message, target.action.limits)
            return _answer(message.activation_id, None, result_only)
        finished = await activator.run(message, target.action.limits, timeout_s)
    except MessagingError as error:
        log.warning(
            "[%s] activation %s not queued: %s", message.transid, message.activation_id, error
        )
        raise ApiError(503, errors.QUEUE_UNAVAILABLE) from error
    return _answer(message.activation_id, finished, result_only)


async def _invoke_sequence(
    request: web.Request,
    identity: Identity,
    activator: Activator,
    target: Target,
    payload: dict[str, Any],
    *,
    blocking: bool,
    result_only: bool,
    timeout_s: float | None,
) -> web.Response:
    """Run a sequence in the background; a blocking caller waits for it as for an action
    (at most ``min(timeout, max wait)``, then 202 while the sequence goes on)."""
    accepted_ms = time.time_ns() // 1_000_000
    args = sequence_arguments(target.action, payload, target.inherited)
    conductor = Conductor(
        activator,
        services(request).activations,
        component_lookup(request, identity),
        identity,
        transaction_id(request),
        api_key=parse_basic(request.headers.get("Authorization")).compact(),
    )
    activation_id = new_activation_id()
    task = launch(
        services(request).background,
        conductor.run(target, args, activation_id, accepted_ms=accepted_ms),
        f"sequence {target.fqn} {activation_id}",
    )
    if not blocking:
        return _answer(activation_id, None, result_only)
    wait_s = activator.invocations.max_wait_s
    if timeout_s is not None:
        wait_s = min(wait_s, timeout_s)
    finished = await wait_for_sequence(task, wait_s, activator.invocations)
    return _answer(activation_id, finished, result_only)
