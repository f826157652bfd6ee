"""`/namespaces/{ns}/actions`: list, get, create or update, delete, and invoke actions."""

from __future__ import annotations

import json
import time

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.context import (
    caller,
    check_action_right,
    check_package_read,
    own_namespace,
    resolve_namespace,
    services,
)
from whisk_services.controller.errors import ApiError
from whisk_services.controller.requests import flag, json_object, paging
from whisk_services.controller.routes._stored import remove, replaceable, save, stored
from whisk_services.model.entities import Action, Package
from whisk_services.model.names import EntityPath, validate_entity_name
from whisk_services.ports.documents import Document

routes = web.RouteTableDef()

MAX_EXEC_BYTES = 48 * 1024 * 1024
MAX_PARAMETERS_BYTES = 1024 * 1024
MAX_PAYLOAD_BYTES = 1024 * 1024


def _json_size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


async def _located(request: web.Request, read_only: bool = False) -> tuple[EntityPath, str]:
    """The action's path and name from `{namespace}/actions/[{pkg}/]{name}`.

    The owner may do anything; others may only read or invoke an action in a package they
    may read (a published one), else 403. A read through a binding is resolved to the bound
    package's path.
    """
    identity = await caller(request)
    segments = request.match_info["name"].split("/")
    if len(segments) > 2 or not all(segments):
        raise ApiError(400, errors.MALFORMED_JSON.format(detail="malformed action name"))
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    for segment in segments:
        validate_entity_name(segment)
    path = EntityPath((namespace, *segments[:-1]))
    path = await check_action_right(request, identity, path, segments[-1], read_only)
    return path, segments[-1]


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
    path, name = await _located(request, read_only=True)
    include_code = flag(request, "code", default=True)
    doc = await _stored_action(request, f"{path}/{name}")
    return web.json_response(Action.from_doc(doc.body).to_api(include_code))


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


@routes.post("/api/v1/namespaces/{namespace}/actions/{name:.+}")
async def invoke_action(request: web.Request) -> web.Response:
    path, name = await _located(request, read_only=True)
    await _stored_action(request, f"{path}/{name}")
    payload = await request.read()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ApiError(413, errors.too_large("Request", len(payload), MAX_PAYLOAD_BYTES))
    await json_object(request)
    # The invocation path (Kafka, invokers) is the next issue's: until then, say so.
    raise ApiError(503, errors.NO_INVOKERS)
