"""The OpenAPI 3 document of the API this controller serves (`GET /api/v1/api-docs`).

It is built from ``OPERATIONS``, the one list of the routes the controller implements, so
the document cannot promise a route the server does not have (a test checks both ways).
"""

from __future__ import annotations

from typing import Any

from whisk_services import __version__

ERROR = {"$ref": "#/components/schemas/ErrorMessage"}

# (method, path below /api/v1, summary, authenticated, body expected)
OPERATIONS: tuple[tuple[str, str, str, bool, bool], ...] = (
    ("get", "", "API information", False, False),
    ("get", "/api-docs", "This OpenAPI document", False, False),
    ("get", "/namespaces", "The caller's namespaces", True, False),
    ("get", "/namespaces/{namespace}/limits", "The namespace's limits", True, False),
    ("get", "/namespaces/{namespace}/actions", "List actions", True, False),
    ("get", "/namespaces/{namespace}/actions/{actionName}", "Get an action", True, False),
    (
        "put",
        "/namespaces/{namespace}/actions/{actionName}",
        "Create or update an action",
        True,
        True,
    ),
    ("delete", "/namespaces/{namespace}/actions/{actionName}", "Delete an action", True, False),
    ("post", "/namespaces/{namespace}/actions/{actionName}", "Invoke an action", True, True),
    ("get", "/namespaces/{namespace}/triggers", "List triggers", True, False),
    ("get", "/namespaces/{namespace}/triggers/{triggerName}", "Get a trigger", True, False),
    (
        "put",
        "/namespaces/{namespace}/triggers/{triggerName}",
        "Create or update a trigger",
        True,
        True,
    ),
    ("delete", "/namespaces/{namespace}/triggers/{triggerName}", "Delete a trigger", True, False),
    ("post", "/namespaces/{namespace}/triggers/{triggerName}", "Fire a trigger", True, True),
    ("get", "/namespaces/{namespace}/rules", "List rules", True, False),
    ("get", "/namespaces/{namespace}/rules/{ruleName}", "Get a rule", True, False),
    ("put", "/namespaces/{namespace}/rules/{ruleName}", "Create or update a rule", True, True),
    ("delete", "/namespaces/{namespace}/rules/{ruleName}", "Delete a rule", True, False),
    ("post", "/namespaces/{namespace}/rules/{ruleName}", "Enable or disable a rule", True, True),
    ("get", "/namespaces/{namespace}/packages", "List packages", True, False),
    ("get", "/namespaces/{namespace}/packages/{packageName}", "Get a package", True, False),
    (
        "put",
        "/namespaces/{namespace}/packages/{packageName}",
        "Create or update a package",
        True,
        True,
    ),
    ("delete", "/namespaces/{namespace}/packages/{packageName}", "Delete a package", True, False),
    ("get", "/namespaces/{namespace}/activations", "List activations", True, False),
    ("get", "/namespaces/{namespace}/activations/{activationid}", "Get an activation", True, False),
    ("get", "/namespaces/{namespace}/activations/{activationid}/result", "Its result", True, False),
    ("get", "/namespaces/{namespace}/activations/{activationid}/logs", "Its logs", True, False),
)


# Answers besides 200 and the error body: an invoke that is not (yet) finished answers 202
# with the activation id.
ACCEPTED = {
    "description": "Accepted: the activation id",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["activationId"],
                "properties": {"activationId": {"type": "string"}},
            }
        }
    },
}
EXTRA_RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/namespaces/{namespace}/actions/{actionName}"): {"202": ACCEPTED},
}


def _operation(summary: str, authenticated: bool, body: bool, path: str) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in (
            "namespace",
            "actionName",
            "triggerName",
            "ruleName",
            "packageName",
            "activationid",
        )
        if "{" + name + "}" in path
    ]
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": {"description": "Success", "content": {"application/json": {"schema": {}}}},
            "default": {
                "description": "Error",
                "content": {"application/json": {"schema": ERROR}},
            },
        },
    }
    if not authenticated:
        operation["security"] = []
    if body:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return operation


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, authenticated, body in OPERATIONS:
        full = f"/api/v1{path}"
        operation = _operation(summary, authenticated, body, full)
        operation["responses"].update(EXTRA_RESPONSES.get((method, full), {}))
        paths.setdefault(full, {})[method] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "OpenWhisk REST API", "version": __version__},
        "paths": paths,
        "security": [{"basicAuth": []}],
        "components": {
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
            "schemas": {
                "ErrorMessage": {
                    "type": "object",
                    "required": ["error", "code"],
                    "properties": {"error": {"type": "string"}, "code": {"type": "string"}},
                }
            },
        },
    }
