"""The OpenAPI document lists every route of the reference's route table, and the app serves
exactly the operations the document lists."""

from __future__ import annotations

import re

from aiohttp import web

from whisk_services.controller.app import ROUTE_TABLES
from whisk_services.controller.openapi import OPERATIONS, openapi_document

# The reference's §1.2 (openwhisk-api.md), parameters written as {}. Web actions arrive with
# their own issue; `GET /namespaces/{ns}` is not served by OpenWhisk either.
REFERENCE_ROUTES = {
    ("get", "/api/v1"),
    ("get", "/api/v1/api-docs"),
    ("get", "/api/v1/namespaces"),
    ("get", "/api/v1/namespaces/{}/limits"),
    *{
        (method, f"/api/v1/namespaces/{{}}/{collection}/{{}}")
        for collection in ("actions", "triggers", "rules", "packages")
        for method in ("get", "put", "delete")
    },
    *{
        ("get", f"/api/v1/namespaces/{{}}/{collection}")
        for collection in ("actions", "triggers", "rules", "packages", "activations")
    },
    ("post", "/api/v1/namespaces/{}/actions/{}"),
    ("post", "/api/v1/namespaces/{}/triggers/{}"),
    ("post", "/api/v1/namespaces/{}/rules/{}"),
    ("get", "/api/v1/namespaces/{}/activations/{}"),
    ("get", "/api/v1/namespaces/{}/activations/{}/result"),
    ("get", "/api/v1/namespaces/{}/activations/{}/logs"),
}

_PARAMETER = re.compile(r"\{[^}]*\}")


def _generic(path: str) -> str:
    return _PARAMETER.sub("{}", path)


def documented() -> set[tuple[str, str]]:
    paths = openapi_document()["paths"]
    return {(method, _generic(path)) for path, item in paths.items() for method in item}


def test_document_lists_every_route_of_the_reference() -> None:
    assert REFERENCE_ROUTES - documented() == set()


def test_document_and_operations_agree() -> None:
    assert documented() == {(m, _generic(f"/api/v1{p}")) for m, p, *_ in OPERATIONS}


def test_app_serves_exactly_the_documented_operations() -> None:
    app = web.Application()
    for table in ROUTE_TABLES:
        app.add_routes(table)
    served = {
        (route.method.lower(), _generic(route.resource.canonical))
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert served - {("get", "/ping")} == documented()
