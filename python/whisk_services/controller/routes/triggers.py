"""`/namespaces/{ns}/triggers`: list, get, create or update, delete, and fire triggers.

A trigger document also holds the links of the rules on it (`rules`: rule -> action and
status); deleting a trigger leaves its rules in place (they read as `inactive`). Firing a
trigger activates its active rules' actions (``controller.firing``): 202 with the fire's
activation id, or 204 when no rule is active.
"""

from __future__ import annotations

import time

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.context import (
    caller,
    owner_only,
    resolve_namespace,
    services,
)
from whisk_services.controller.errors import ApiError
from whisk_services.controller.firing import MAX_PAYLOAD_BYTES, Firing
from whisk_services.controller.requests import flag, json_object, paging
from whisk_services.controller.routes._stored import remove, replaceable, save, stored
from whisk_services.model.entities import Trigger
from whisk_services.model.identity import Identity
from whisk_services.model.names import EntityPath, validate_entity_name
from whisk_services.ports.documents import Document, JsonObject

routes = web.RouteTableDef()

ACTIVATION_ID_HEADER = "x-openwhisk-activation-id"
SUMMARY_FIELDS = ("namespace", "name", "version", "publish", "annotations", "updated")


async def _located(request: web.Request) -> tuple[EntityPath, str]:
    """The trigger's namespace and name from `{namespace}/triggers/{name}`, owner only."""
    return _locate(request, await caller(request))


def _locate(request: web.Request, identity: Identity) -> tuple[EntityPath, str]:
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    name = request.match_info["name"]
    owner_only(identity, namespace, name)
    validate_entity_name(name)
    return EntityPath((namespace,)), name


async def stored_trigger(request: web.Request, doc_id: str) -> Document:
    """The trigger document `doc_id`, or a 404."""
    return await stored(services(request).whisks, doc_id, Trigger.ENTITY_TYPE)


def _summary(trigger: JsonObject) -> JsonObject:
    """The list shape (OpenWhisk's `triggers` view): no parameters, limits or rules."""
    return {key: trigger[key] for key in SUMMARY_FIELDS}


@routes.get("/api/v1/namespaces/{namespace}/triggers")
async def list_triggers(request: web.Request) -> web.Response:
    identity = await caller(request)
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    owner_only(identity, namespace, "")
    store = services(request).whisks_store
    if flag(request, "count"):
        return web.json_response({"triggers": await store.count("triggers", [namespace])})
    skip, limit = paging(request)
    docs = await store.query("triggers", [namespace], skip=skip, limit=limit)
    return web.json_response([_summary(Trigger.from_doc(doc.body).to_api()) for doc in docs])


@routes.get("/api/v1/namespaces/{namespace}/triggers/{name}")
async def get_trigger(request: web.Request) -> web.Response:
    path, name = await _located(request)
    doc = await stored_trigger(request, f"{path}/{name}")
    return web.json_response(Trigger.from_doc(doc.body).to_api())


@routes.put("/api/v1/namespaces/{namespace}/triggers/{name}")
async def put_trigger(request: web.Request) -> web.Response:
    path, name = await _located(request)
    body = await json_object(request)
    overwrite = flag(request, "overwrite")
    whisks = services(request).whisks
    doc_id = f"{path}/{name}"
    existing_doc = await replaceable(whisks, doc_id, Trigger.ENTITY_TYPE, overwrite)
    existing = Trigger.from_doc(existing_doc.body) if existing_doc else None
    trigger = Trigger.from_api(
        body, path, name, existing=existing, updated_ms=int(time.time() * 1000)
    )
    await save(whisks, doc_id, trigger.to_doc(), existing_doc)
    return web.json_response(trigger.to_api())


@routes.delete("/api/v1/namespaces/{namespace}/triggers/{name}")
async def delete_trigger(request: web.Request) -> web.Response:
    path, name = await _located(request)
    doc = await stored_trigger(request, f"{path}/{name}")
    await remove(services(request).whisks, doc)
    return web.json_response(Trigger.from_doc(doc.body).to_api())


@routes.post("/api/v1/namespaces/{namespace}/triggers/{name}")
async def fire_trigger(request: web.Request) -> web.StreamResponse:
    identity = await caller(request)
    path, name = _locate(request, identity)
    raw = await request.read()
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ApiError(413, errors.too_large("Request", len(raw), MAX_PAYLOAD_BYTES))
    payload = await json_object(request)
    doc = await stored_trigger(request, f"{path}/{name}")
    trigger = Trigger.from_doc(doc.body)
    throttles = services(request).throttles
    if throttles is not None:  # every fire counts, with or without an active rule
        await throttles.check_fire(identity)
    activation_id = await Firing(request, identity, trigger, payload).run()
    if activation_id is None:
        # No active rule: nothing runs and no activation record is written.
        return web.Response(status=204)
    return web.json_response(
        {"activationId": activation_id},
        status=202,
        headers={ACTIVATION_ID_HEADER: activation_id},
    )
