"""`/namespaces`: the caller's namespace and its limits."""

from __future__ import annotations

from aiohttp import web

from whisk_services.controller.context import caller, own_namespace, services
from whisk_services.model.namespace_limits import SYSTEM_DEFAULTS, NamespaceLimits

routes = web.RouteTableDef()


@routes.get("/api/v1/namespaces")
async def list_namespaces(request: web.Request) -> web.Response:
    identity = await caller(request)
    return web.json_response([identity.namespace])


@routes.get("/api/v1/namespaces/{namespace}/limits")
async def namespace_limits(request: web.Request) -> web.Response:
    identity = await caller(request)
    namespace = own_namespace(identity, request.match_info["namespace"], "limits")
    context = services(request)
    bounds = context.bounds
    doc = await context.subjects.get(NamespaceLimits.doc_id(namespace))
    own = NamespaceLimits.from_doc(doc.body) if doc else NamespaceLimits()
    defaults = context.throttles.defaults if context.throttles is not None else SYSTEM_DEFAULTS
    return web.json_response(
        {
            **own.with_defaults(defaults),
            "minActionMemory": bounds.min_memory_mb * 1024 * 1024,
            "maxActionMemory": bounds.max_memory_mb * 1024 * 1024,
            "minActionLogs": bounds.min_logs_mb * 1024 * 1024,
            "maxActionLogs": bounds.max_logs_mb * 1024 * 1024,
            "minActionTimeout": bounds.min_timeout_ms,
            "maxActionTimeout": bounds.max_timeout_ms,
            "minActionConcurrency": bounds.min_concurrency,
            "maxActionConcurrency": bounds.max_concurrency,
        }
    )
