"""Routes that need no authentication: API information, the OpenAPI document, ping."""

from __future__ import annotations

from aiohttp import web

from whisk_services import __version__
from whisk_services.controller.context import services
from whisk_services.controller.openapi import openapi_document

routes = web.RouteTableDef()


@routes.get("/api/v1")
async def api_info(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "description": "OpenWhisk API",
            "api_version": "1.0.0",
            "api_version_path": "v1",
            "build": services(request).build,
            "buildno": __version__,
            "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
        }
    )


@routes.get("/api/v1/api-docs")
async def api_docs(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


@routes.get("/ping")
async def ping(request: web.Request) -> web.Response:
    return web.Response(text="pong")
