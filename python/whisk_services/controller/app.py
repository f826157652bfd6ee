"""Build the controller's aiohttp application from its services."""

from __future__ import annotations

from aiohttp import web

from whisk_services.controller.context import SERVICES, Services
from whisk_services.controller.middleware import api_middleware
from whisk_services.controller.routes import (
    actions,
    activations,
    namespaces,
    packages,
    rules,
    system,
    triggers,
)
from whisk_services.controller.routes import web as web_actions

# Exec code may reach 48 MB; the body also carries JSON quoting, so leave room.
MAX_BODY_BYTES = 50 * 1024 * 1024


ROUTE_TABLES = tuple(
    module.routes
    for module in (system, namespaces, actions, activations, triggers, rules, packages)
)


def build_app(services: Services) -> web.Application:
    # The web actions API (`/api/v1/web/`) is apart from the REST API: not in its route
    # tables (nor its OpenAPI document), and answered by its own middleware.
    app = web.Application(
        middlewares=[web_actions.web_middleware, api_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[SERVICES] = services
    for table in ROUTE_TABLES:
        app.add_routes(table)
    app.add_routes(web_actions.routes)
    return app
