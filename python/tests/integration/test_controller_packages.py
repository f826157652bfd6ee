"""Packages, bindings and cross-namespace entitlement over the real controller and CouchDB.

The owner has every right in its namespace; another namespace may list and read only the
published packages (and the actions in them), and gets 403 for everything else.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.integration.controller_support import Client, assert_error, forbidden, fresh, ok
from whisk_testbed.controller import ControllerProcess

pytestmark = pytest.mark.integration

ACTION = {"exec": {"kind": "nodejs:18", "code": "function main(a) { return a; }"}}


DB_PREFIX = "pkgs_"


def _package(client: Client, body: dict[str, Any] | None = None) -> str:
    name = fresh("p")
    ok(client.call("PUT", f"/namespaces/_/packages/{name}", json=body or {}))
    return name


def _action_in(client: Client, package: str, body: dict[str, Any] | None = None) -> str:
    name = fresh("a")
    ok(client.call("PUT", f"/namespaces/_/actions/{package}/{name}", json=body or ACTION))
    return name


def test_package_create_get_update_delete(guest: Client) -> None:
    name = fresh("p")
    body = {"parameters": [{"key": "x", "value": 1}], "publish": False}
    created = ok(guest.call("PUT", f"/namespaces/_/packages/{name}", json=body))
    assert created["namespace"] == "guest"
    assert created["name"] == name
    assert created["version"] == "0.0.1"
    assert created["binding"] == {}
    assert created["parameters"] == [{"key": "x", "value": 1}]

    fetched = ok(guest.call("GET", f"/namespaces/guest/packages/{name}"))
    assert fetched == {**created, "actions": [], "feeds": []}

    assert_error(
        guest.call("PUT", f"/namespaces/_/packages/{name}", json=body),
        409,
        "resource already exists",
    )
    updated = ok(
        guest.call("PUT", f"/namespaces/_/packages/{name}?overwrite=true", json={"publish": True})
    )
    assert updated["version"] == "0.0.2"
    assert updated["publish"] is True
    assert updated["parameters"] == [{"key": "x", "value": 1}]

    deleted = ok(guest.call("DELETE", f"/namespaces/_/packages/{name}"))
    assert deleted["version"] == "0.0.2"
    assert_error(guest.call("GET", f"/namespaces/_/packages/{name}"), 404)
    assert_error(guest.call("DELETE", f"/namespaces/_/packages/{name}"), 404)


def test_package_get_lists_its_actions_and_feeds(guest: Client) -> None:
    package = _package(guest)
    action = _action_in(guest, package)
    feed_body = {**ACTION, "annotations": [{"key": "feed", "value": True}]}
    feed = _action_in(guest, package, feed_body)
    fetched = ok(guest.call("GET", f"/namespaces/_/packages/{package}"))
    assert [a["name"] for a in fetched["actions"]] == [action]
    assert fetched["actions"][0]["version"] == "0.0.1"
    assert {"key": "exec", "value": "nodejs:18"} in fetched["actions"][0]["annotations"]
    assert set(fetched["actions"][0]) == {"name", "version", "annotations"}
    assert [f["name"] for f in fetched["feeds"]] == [feed]


def test_reserved_and_bad_names_are_400(guest: Client) -> None:
    assert_error(
        guest.call("PUT", "/namespaces/_/packages/default", json={}),
        400,
        "Package name 'default' is reserved.",
    )
    assert_error(guest.call("GET", "/namespaces/_/packages/%24dollar"), 400)
    assert_error(
        guest.call("PUT", f"/namespaces/_/packages/{fresh('p')}", json={"parameters": 3}), 400
    )
    response = guest.call(
        "PUT",
        f"/namespaces/_/packages/{fresh('p')}",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400)


def test_package_put_over_another_collection_is_409(guest: Client) -> None:
    trigger = fresh("t")
    ok(guest.call("PUT", f"/namespaces/_/triggers/{trigger}", json={}))
    assert_error(
        guest.call("PUT", f"/namespaces/_/packages/{trigger}?overwrite=true", json={}),
        409,
        "Resource by this name exists but is not in this collection.",
    )


def test_binding_create_get_and_its_errors(guest: Client) -> None:
    package = _package(guest, {"parameters": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]})
    action = _action_in(guest, package)
    binding = fresh("b")
    body = {
        "binding": {"namespace": "_", "name": package},
        "parameters": [{"key": "b", "value": 3}],
    }
    created = ok(guest.call("PUT", f"/namespaces/_/packages/{binding}", json=body))
    assert created["binding"] == {"namespace": "guest", "name": package}
    assert {"key": "binding", "value": {"namespace": "guest", "name": package}} in created[
        "annotations"
    ]

    fetched = ok(guest.call("GET", f"/namespaces/_/packages/{binding}"))
    assert fetched["name"] == binding
    assert fetched["binding"] == {"namespace": "guest", "name": package}
    params = {p["key"]: p["value"] for p in fetched["parameters"]}
    assert params == {"a": 1, "b": 3}
    assert [a["name"] for a in fetched["actions"]] == [action]
    # An action is read through the binding from the bound package.
    through = ok(guest.call("GET", f"/namespaces/_/actions/{binding}/{action}"))
    assert through["name"] == action
    assert through["namespace"] == f"guest/{package}"

    missing = {"binding": {"namespace": "_", "name": fresh("p")}}
    assert_error(
        guest.call("PUT", f"/namespaces/_/packages/{fresh('b')}", json=missing),
        400,
        "Binding references a package that does not exist.",
    )
    to_binding = {"binding": {"namespace": "_", "name": binding}}
    assert_error(
        guest.call("PUT", f"/namespaces/_/packages/{fresh('b')}", json=to_binding),
        400,
        "Cannot bind to another package binding.",
    )
    assert_error(
        guest.call(
            "PUT",
            f"/namespaces/_/packages/{package}?overwrite=true",
            json={"binding": {"namespace": "_", "name": package}},
        ),
        409,
        "Resource is a package and cannot be converted into a binding.",
    )
    # Nothing may be put into a binding; deleting a binding needs no force.
    assert_error(
        guest.call("PUT", f"/namespaces/_/actions/{binding}/{fresh('a')}", json=ACTION),
        400,
        "Operation not permitted on package binding.",
    )
    ok(guest.call("DELETE", f"/namespaces/_/packages/{binding}"))


def test_delete_non_empty_package_is_409_unless_forced(guest: Client) -> None:
    package = _package(guest)
    actions = [_action_in(guest, package) for _ in range(2)]
    assert_error(
        guest.call("DELETE", f"/namespaces/_/packages/{package}"),
        409,
        "Package not empty (contains 2 entities). Set force param or delete package contents.",
    )
    ok(guest.call("DELETE", f"/namespaces/_/actions/{package}/{actions[0]}"))
    assert_error(
        guest.call("DELETE", f"/namespaces/_/packages/{package}"),
        409,
        "Package not empty (contains 1 entity). Set force param or delete package contents.",
    )
    assert_error(guest.call("DELETE", f"/namespaces/_/packages/{package}?force=maybe"), 400)
    deleted = ok(guest.call("DELETE", f"/namespaces/_/packages/{package}?force=true"))
    assert deleted["name"] == package
    assert_error(guest.call("GET", f"/namespaces/_/actions/{package}/{actions[1]}"), 404)


def test_package_list_paging_count_and_public_view(guest: Client, other: Client) -> None:
    private = _package(guest)
    time.sleep(0.005)
    public = _package(guest, {"publish": True})
    time.sleep(0.005)
    binding = fresh("b")
    ok(
        guest.call(
            "PUT",
            f"/namespaces/_/packages/{binding}",
            json={"binding": {"namespace": "guest", "name": public}, "publish": True},
        )
    )
    own = ok(guest.call("GET", "/namespaces/_/packages?limit=3"))
    assert [p["name"] for p in own] == [binding, public, private]
    assert own[0]["binding"] == {"namespace": "guest", "name": public}
    assert own[1]["binding"] is False
    assert set(own[1]) == {
        "namespace",
        "name",
        "version",
        "publish",
        "annotations",
        "updated",
        "binding",
    }
    assert [p["name"] for p in ok(guest.call("GET", "/namespaces/_/packages?limit=1&skip=1"))] == [
        public
    ]
    assert ok(guest.call("GET", "/namespaces/_/packages?count=true"))["packages"] >= 3
    assert_error(guest.call("GET", "/namespaces/_/packages?limit=-1"), 400)

    seen = {p["name"] for p in ok(other.call("GET", "/namespaces/guest/packages?limit=200"))}
    assert public in seen
    assert private not in seen
    assert binding not in seen
    assert ok(other.call("GET", "/namespaces/guest/packages?count=true"))["packages"] >= 1


def test_public_package_is_readable_by_others_and_nothing_else(
    guest: Client, other: Client
) -> None:
    public = _package(guest, {"publish": True, "parameters": [{"key": "k", "value": "v"}]})
    action = _action_in(guest, public)
    path = f"/namespaces/guest/packages/{public}"

    fetched = ok(other.call("GET", path))
    assert fetched["name"] == public
    assert [a["name"] for a in fetched["actions"]] == [action]
    read = ok(other.call("GET", f"/namespaces/guest/actions/{public}/{action}"))
    assert read["namespace"] == f"guest/{public}"

    assert_error(
        other.call("PUT", f"{path}?overwrite=true", json={}), 403, forbidden(f"guest/{public}")
    )
    assert_error(other.call("DELETE", path), 403, forbidden(f"guest/{public}"))
    assert_error(
        other.call("PUT", f"/namespaces/guest/actions/{public}/{action}?overwrite=true", json={}),
        403,
        forbidden(f"guest/{public}/{action}"),
    )
    assert_error(
        other.call("DELETE", f"/namespaces/guest/actions/{public}/{action}"),
        403,
        forbidden(f"guest/{public}/{action}"),
    )
    assert_error(other.call("GET", "/namespaces/guest/actions"), 403, forbidden("guest"))
    assert ok(guest.call("GET", f"/namespaces/_/actions/{public}/{action}"))["name"] == action


def test_private_package_and_its_actions_are_403_for_others(guest: Client, other: Client) -> None:
    private = _package(guest)
    action = _action_in(guest, private)
    assert_error(
        other.call("GET", f"/namespaces/guest/packages/{private}"),
        403,
        forbidden(f"guest/{private}"),
    )
    assert_error(
        other.call("GET", f"/namespaces/guest/actions/{private}/{action}"),
        403,
        forbidden(f"guest/{private}"),
    )
    assert_error(other.call("POST", f"/namespaces/guest/actions/{private}/{action}"), 403)
    # A package that does not exist is a 403 too for others (nothing leaks), 404 for its owner.
    missing = fresh("p")
    assert_error(
        other.call("GET", f"/namespaces/guest/packages/{missing}"),
        403,
        forbidden(f"guest/{missing}"),
    )
    assert_error(guest.call("GET", f"/namespaces/_/packages/{missing}"), 404)


def test_bindings_across_namespaces(guest: Client, other: Client) -> None:
    public = _package(guest, {"publish": True})
    action = _action_in(guest, public)
    private = _package(guest)

    binding = fresh("b")
    body = {"binding": {"namespace": "guest", "name": public}}
    created = ok(other.call("PUT", f"/namespaces/_/packages/{binding}", json=body))
    assert created["namespace"] == "other"
    fetched = ok(other.call("GET", f"/namespaces/_/packages/{binding}"))
    assert [a["name"] for a in fetched["actions"]] == [action]

    # Binding to a private or missing package of another namespace: 403, nothing leaks.
    for name in (private, fresh("p")):
        assert_error(
            other.call(
                "PUT",
                f"/namespaces/_/packages/{fresh('b')}",
                json={"binding": {"namespace": "guest", "name": name}},
            ),
            403,
            forbidden(f"guest/{name}"),
        )
    # Another namespace's binding is not readable, even to a public package.
    assert_error(
        guest.call("GET", f"/namespaces/other/packages/{binding}"),
        403,
        forbidden(f"other/{binding}"),
    )
    # Once the bound package is no longer public, the binding's owner loses read access.
    ok(
        guest.call(
            "PUT", f"/namespaces/_/packages/{public}?overwrite=true", json={"publish": False}
        )
    )
    assert_error(
        other.call("GET", f"/namespaces/_/packages/{binding}"), 403, forbidden(f"other/{binding}")
    )


def test_invoking_in_a_public_package_reaches_the_honest_503(guest: Client, other: Client) -> None:
    public = _package(guest, {"publish": True})
    action = _action_in(guest, public)
    assert_error(
        other.call("POST", f"/namespaces/guest/actions/{public}/{action}"),
        503,
        "No invokers available.",
    )


def test_packages_need_credentials(controller: ControllerProcess) -> None:
    for method, path in (
        ("GET", "/namespaces/_/packages"),
        ("GET", "/namespaces/_/packages/p"),
        ("PUT", "/namespaces/_/packages/p"),
        ("DELETE", "/namespaces/_/packages/p"),
    ):
        response = requests.request(method, f"{controller.url}/api/v1{path}", timeout=10)
        assert_error(response, 401, "The supplied authentication is invalid.")


def test_post_on_a_package_is_405(guest: Client) -> None:
    assert_error(guest.call("POST", f"/namespaces/_/packages/{_package(guest)}"), 405)


def test_actions_of_a_package_are_listed_with_a_trailing_slash(
    guest: Client, other: Client
) -> None:
    package = _package(guest, {"publish": True})
    names = [_action_in(guest, package) for _ in range(2)]
    listed = ok(guest.call("GET", f"/namespaces/_/actions/{package}/"))
    assert sorted(a["name"] for a in listed) == sorted(names)
    assert {a["namespace"] for a in listed} == {f"guest/{package}"}
    assert ok(guest.call("GET", f"/namespaces/_/actions/{package}/?count=true")) == {"actions": 2}
    # Another namespace may list a published package's actions, through a binding too.
    assert len(ok(other.call("GET", f"/namespaces/guest/actions/{package}/"))) == 2
    binding = _package(other, {"binding": {"namespace": "guest", "name": package}})
    through = ok(other.call("GET", f"/namespaces/_/actions/{binding}/"))
    assert sorted(a["name"] for a in through) == sorted(names)

    private = _package(guest)
    _action_in(guest, private)
    assert_error(other.call("GET", f"/namespaces/guest/actions/{private}/"), 403)
    assert_error(guest.call("GET", f"/namespaces/_/actions/{fresh('nopkg')}/"), 404)
