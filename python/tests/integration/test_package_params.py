"""Packages in use on the real platform: an action in a published package of one namespace,
invoked by another namespace through its own binding, runs with the package's parameters,
overridden by the binding's, the action's own and the payload's; a private package of
another namespace stays forbidden.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.controller_support import Client, assert_error, forbidden, fresh
from tests.integration.platform_support import Platform

pytestmark = pytest.mark.integration

DB_PREFIX = "packages_inuse_"
NETWORK = ("whisk-test-pkgs", "172.31.242.0/24", "whisktpkg0")
INSTANCE = 10  # controller and invoker number, used by no other module on the session broker

ECHO_PY = "def main(args):\n    return {'args': args}\n"


def params(**values: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in values.items()]


@pytest.fixture(scope="module")
def other(platform: Platform) -> tuple[Client, str]:
    """A second subject in a namespace of its own, and that namespace."""
    namespace = fresh("pkgns")
    auth = platform.controller.create_subject(fresh("pkguser"), namespace)
    return Client(platform.controller.url, auth), namespace


def put(client: Client, path: str, body: dict[str, Any]) -> None:
    response = client.call("PUT", f"/namespaces/_/{path}", json=body)
    assert response.status_code == 200, response.text


def test_an_action_through_a_binding_to_a_public_package_gets_the_merged_arguments(
    platform: Platform, other: tuple[Client, str]
) -> None:
    guest = platform.guest
    b_client, _ = other
    package, binding = fresh("pub"), fresh("bind")
    put(guest, f"packages/{package}", {"publish": True, "parameters": params(p=1, b=1, a=1, x=1)})
    put(
        guest,
        f"actions/{package}/echo",
        {"exec": {"kind": "python:3.11", "code": ECHO_PY}, "parameters": params(a=3, x=3)},
    )
    put(
        b_client,
        f"packages/{binding}",
        {"binding": {"namespace": "guest", "name": package}, "parameters": params(b=2, a=2, x=2)},
    )
    response = b_client.call(
        "POST",
        f"/namespaces/_/actions/{binding}/echo",
        params={"blocking": "true", "result": "true"},
        json={"x": 4},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"args": {"p": 1, "b": 2, "a": 3, "x": 4}}
    # GET through the binding shows the merged parameters (without the payload).
    shown = b_client.call("GET", f"/namespaces/_/actions/{binding}/echo")
    assert shown.status_code == 200, shown.text
    assert {p["key"]: p["value"] for p in shown.json()["parameters"]} == {
        "p": 1,
        "b": 2,
        "a": 3,
        "x": 3,
    }
    assert shown.json()["namespace"] == f"guest/{package}"


def test_a_private_package_of_another_namespace_is_forbidden(
    platform: Platform, other: tuple[Client, str]
) -> None:
    b_client, _ = other
    package = fresh("priv")
    put(platform.guest, f"packages/{package}", {"parameters": params(hidden="h")})
    put(
        platform.guest,
        f"actions/{package}/echo",
        {"exec": {"kind": "python:3.11", "code": ECHO_PY}},
    )
    path = f"/namespaces/guest/actions/{package}/echo"
    for method in ("GET", "POST"):
        response = b_client.call(method, path, params={"blocking": "true"}, json={})
        assert_error(response, 403, forbidden(f"guest/{package}"))
    # Its owner invokes it with the package's parameters.
    own = platform.invoke(f"{package}/echo", blocking="true", result="true")
    assert own.status_code == 200, own.text
    assert own.json() == {"args": {"hidden": "h"}}
