"""`/namespaces/{ns}/activations`: list activation records and read one, its result, its logs."""

from __future__ import annotations

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.context import caller, own_namespace, services
from whisk_services.controller.errors import ApiError
from whisk_services.controller.requests import flag, integer, paging
from whisk_services.model.activation import Activation, parse_activation_id
from whisk_services.model.names import validate_entity_name

routes = web.RouteTableDef()

EPOCH_MAX_MS = 2**53


def _name_filter(request: web.Request) -> str | None:
    """`name=action` or `name=pkg/action`: the stored activation's name is the action's."""
    raw = request.query.get("name")
    if not raw:
        return None
    segments = raw.strip("/").split("/")
    if len(segments) > 2:
        raise ApiError(400, "The name of the entity contains illegal characters.")
    for segment in segments:
        validate_entity_name(segment)
    return segments[-1]


@routes.get("/api/v1/namespaces/{namespace}/activations")
async def list_activations(request: web.Request) -> web.Response:
    identity = await caller(request)
    namespace = own_namespace(identity, request.match_info["namespace"], "")
    count, docs = flag(request, "count"), flag(request, "docs")
    if count and docs:
        raise ApiError(400, "The parameters 'count' and 'docs' cannot be used together.")
    since = integer(request, "since", 0, 0, EPOCH_MAX_MS) or None
    upto = integer(request, "upto", 0, 0, EPOCH_MAX_MS) or None
    name = _name_filter(request)
    index, prefix = (
        ("activations-by-name", [namespace, name]) if name else ("activations", [namespace])
    )
    store = services(request).activations
    if count:
        total = await store.count(index, prefix, since=since, upto=upto)
        return web.json_response({"activations": total})
    skip, limit = paging(request)
    found = await store.query(index, prefix, since=since, upto=upto, skip=skip, limit=limit)
    records = [Activation.from_doc(doc.body) for doc in found]
    return web.json_response([r.to_api() if docs else r.summary() for r in records])


async def _activation(request: web.Request) -> Activation:
    identity = await caller(request)
    namespace = own_namespace(identity, request.match_info["namespace"], "")
    activation_id = parse_activation_id(request.match_info["activation_id"])
    doc = await services(request).activations.get(f"{namespace}/{activation_id}")
    if doc is None:
        raise ApiError(404, errors.NOT_FOUND)
    return Activation.from_doc(doc.body)


@routes.get("/api/v1/namespaces/{namespace}/activations/{activation_id}")
async def get_activation(request: web.Request) -> web.Response:
    return web.json_response((await _activation(request)).to_api())


@routes.get("/api/v1/namespaces/{namespace}/activations/{activation_id}/result")
async def get_result(request: web.Request) -> web.Response:
    return web.json_response((await _activation(request)).result_api())


@routes.get("/api/v1/namespaces/{namespace}/activations/{activation_id}/logs")
async def get_logs(request: web.Request) -> web.Response:
    return web.json_response((await _activation(request)).logs_api())
