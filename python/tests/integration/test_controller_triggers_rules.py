"""Triggers and rules over the real controller and the real CouchDB-API server.

A rule's status lives in its trigger's document; these tests check that creating, enabling,
disabling, re-pointing and deleting rules keep the two documents in step, and that firing
answers 204 without an active rule and an honest 503 with one (invokers come next).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.integration.controller_support import Client, assert_error, forbidden, fresh, ok
from whisk_testbed.controller import ControllerProcess

pytestmark = pytest.mark.integration

ACTION = {"exec": {"kind": "nodejs:18", "code": "function main(a) { return a; }"}}


DB_PREFIX = "rules_"


def _trigger(client: Client, body: dict[str, Any] | None = None) -> str:
    name = fresh("t")
    ok(client.call("PUT", f"/namespaces/_/triggers/{name}", json=body or {}))
    return name


def _action(client: Client) -> str:
    name = fresh("a")
    ok(client.call("PUT", f"/namespaces/_/actions/{name}", json=ACTION))
    return name


def _rule(client: Client, trigger: str, action: str) -> str:
    name = fresh("r")
    body = {"trigger": f"/_/{trigger}", "action": f"/_/{action}"}
    ok(client.call("PUT", f"/namespaces/_/rules/{name}", json=body))
    return name


# ---------------------------------------------------------------------------- triggers


def test_trigger_create_get_update_delete(guest: Client) -> None:
    name = fresh("t")
    body = {"parameters": [{"key": "x", "value": 1}], "annotations": [{"key": "k", "value": 2}]}
    created = ok(guest.call("PUT", f"/namespaces/_/triggers/{name}", json=body))
    assert created["namespace"] == "guest"
    assert created["name"] == name
    assert created["version"] == "0.0.1"
    assert created["publish"] is False
    assert created["parameters"] == [{"key": "x", "value": 1}]
    assert created["annotations"] == [{"key": "k", "value": 2}]
    assert created["limits"] == {}
    assert "rules" not in created
    assert ok(guest.call("GET", f"/namespaces/guest/triggers/{name}")) == created

    assert_error(
        guest.call("PUT", f"/namespaces/_/triggers/{name}", json=body),
        409,
        "resource already exists",
    )
    updated = ok(
        guest.call(
            "PUT",
            f"/namespaces/_/triggers/{name}?overwrite=true",
            json={"parameters": [{"key": "y", "value": "z"}]},
        )
    )
    assert updated["version"] == "0.0.2"
    assert updated["parameters"] == [{"key": "y", "value": "z"}]
    assert updated["annotations"] == [{"key": "k", "value": 2}]

    deleted = ok(guest.call("DELETE", f"/namespaces/_/triggers/{name}"))
    assert deleted["version"] == "0.0.2"
    assert_error(guest.call("GET", f"/namespaces/_/triggers/{name}"), 404)
    assert_error(guest.call("DELETE", f"/namespaces/_/triggers/{name}"), 404)


def test_trigger_put_over_another_collection_is_409(guest: Client) -> None:
    action = _action(guest)
    assert_error(
        guest.call("PUT", f"/namespaces/_/triggers/{action}?overwrite=true", json={}),
        409,
        "Resource by this name exists but is not in this collection.",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"annotations": [{"key": "feed", "value": "not a/valid/feed/name"}]},
        {"parameters": "not a list"},
        {"publish": "yes"},
    ],
)
def test_bad_trigger_bodies_are_400(guest: Client, body: dict[str, Any]) -> None:
    assert_error(guest.call("PUT", f"/namespaces/_/triggers/{fresh('t')}", json=body), 400)


def test_bad_feed_name_message(guest: Client) -> None:
    body = {"annotations": [{"key": "feed", "value": "a/b/c/d"}]}
    response = guest.call("PUT", f"/namespaces/_/triggers/{fresh('t')}", json=body)
    assert_error(response, 400, "Feed name is not valid")
    good = {"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]}
    assert guest.call("PUT", f"/namespaces/_/triggers/{fresh('t')}", json=good).ok


def test_trigger_bad_name_and_malformed_body_are_400(guest: Client) -> None:
    assert_error(guest.call("GET", "/namespaces/_/triggers/%24dollar"), 400)
    response = guest.call(
        "PUT",
        f"/namespaces/_/triggers/{fresh('t')}",
        data=b"[1]",
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400)


def test_trigger_list_paging_and_count(guest: Client) -> None:
    names = []
    for _ in range(3):
        names.append(_trigger(guest, {"parameters": [{"key": "p", "value": 1}]}))
        time.sleep(0.005)
    listed = ok(guest.call("GET", "/namespaces/_/triggers?limit=3"))
    assert [t["name"] for t in listed] == list(reversed(names))
    assert set(listed[0]) == {"namespace", "name", "version", "publish", "annotations", "updated"}
    second = ok(guest.call("GET", "/namespaces/_/triggers?limit=1&skip=1"))
    assert [t["name"] for t in second] == [names[1]]
    assert ok(guest.call("GET", "/namespaces/_/triggers?count=true"))["triggers"] >= 3
    assert_error(guest.call("GET", "/namespaces/_/triggers?limit=201"), 400)
    assert_error(guest.call("GET", "/namespaces/_/triggers?count=maybe"), 400)


def test_fire_without_active_rule_is_204_and_with_one_503(guest: Client) -> None:
    trigger = _trigger(guest)
    fired = guest.call("POST", f"/namespaces/_/triggers/{trigger}", json={"payload": 1})
    assert fired.status_code == 204
    assert fired.content == b""

    rule = _rule(guest, trigger, _action(guest))
    assert_error(
        guest.call("POST", f"/namespaces/_/triggers/{trigger}"), 503, "No invokers available."
    )
    assert guest.call("POST", f"/namespaces/_/rules/{rule}", json={"status": "inactive"}).ok
    assert guest.call("POST", f"/namespaces/_/triggers/{trigger}").status_code == 204
    assert_error(guest.call("POST", f"/namespaces/_/triggers/{fresh('t')}"), 404)
    assert_error(
        guest.call(
            "POST",
            f"/namespaces/_/triggers/{trigger}",
            data=b"{bad",
            headers={"Content-Type": "application/json"},
        ),
        400,
    )


def test_triggers_of_another_namespace_are_403(guest: Client, other: Client) -> None:
    trigger = _trigger(guest)
    path = f"/namespaces/guest/triggers/{trigger}"
    assert_error(other.call("GET", path), 403, forbidden(f"guest/{trigger}"))
    assert_error(other.call("PUT", f"{path}?overwrite=true", json={}), 403)
    assert_error(other.call("POST", path), 403)
    assert_error(other.call("DELETE", path), 403)
    assert_error(other.call("GET", "/namespaces/guest/triggers"), 403, forbidden("guest"))
    assert other.call("GET", f"/namespaces/_/triggers/{trigger}").status_code == 404
    assert guest.call("GET", path).ok


def test_triggers_and_rules_need_credentials(controller: ControllerProcess) -> None:
    for path in ("/namespaces/_/triggers", "/namespaces/_/rules/x", "/namespaces/_/triggers/t"):
        response = requests.get(f"{controller.url}/api/v1{path}", timeout=10)
        assert_error(response, 401, "The supplied authentication is invalid.")
    fire = requests.post(f"{controller.url}/api/v1/namespaces/_/triggers/t", timeout=10)
    assert_error(fire, 401)


# ---------------------------------------------------------------------------- rules


def test_rule_create_get_links_the_trigger(guest: Client) -> None:
    trigger, action = _trigger(guest), _action(guest)
    name = fresh("r")
    body = {"trigger": f"/_/{trigger}", "action": f"/guest/{action}"}
    created = ok(guest.call("PUT", f"/namespaces/_/rules/{name}", json=body))
    assert created["namespace"] == "guest"
    assert created["name"] == name
    assert created["version"] == "0.0.1"
    assert created["status"] == "active"
    assert created["trigger"] == {"path": "guest", "name": trigger}
    assert created["action"] == {"path": "guest", "name": action}
    assert ok(guest.call("GET", f"/namespaces/_/rules/{name}")) == created

    linked = ok(guest.call("GET", f"/namespaces/_/triggers/{trigger}"))
    assert linked["rules"] == {
        f"guest/{name}": {"action": {"path": "guest", "name": action}, "status": "active"}
    }
    assert_error(
        guest.call("PUT", f"/namespaces/_/rules/{name}", json=body), 409, "resource already exists"
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"trigger": "/_/t"}, {"action": "/_/a"}, {"trigger": 5, "action": "/_/a"}],
)
def test_rule_without_valid_trigger_and_action_is_400(guest: Client, body: dict[str, Any]) -> None:
    assert_error(
        guest.call("PUT", f"/namespaces/_/rules/{fresh('r')}", json=body),
        400,
        "rule requires a valid trigger and a valid action",
    )


def test_rule_with_missing_trigger_or_action_is_400(guest: Client) -> None:
    trigger, action = _trigger(guest), _action(guest)
    missing = fresh("t")
    body = {"trigger": f"/_/{missing}", "action": f"/_/{action}"}
    assert_error(
        guest.call("PUT", f"/namespaces/_/rules/{fresh('r')}", json=body),
        400,
        f"trigger /guest/{missing} does not exist",
    )
    body = {"trigger": f"/_/{trigger}", "action": f"/_/{missing}"}
    assert_error(
        guest.call("PUT", f"/namespaces/_/rules/{fresh('r')}", json=body),
        400,
        f"action /guest/{missing} does not exist",
    )
    assert "rules" not in ok(guest.call("GET", f"/namespaces/_/triggers/{trigger}"))


def test_rule_enable_disable(guest: Client) -> None:
    trigger = _trigger(guest)
    name = _rule(guest, trigger, _action(guest))
    path = f"/namespaces/_/rules/{name}"

    disabled = guest.call("POST", path, json={"status": "inactive"})
    assert disabled.status_code == 200
    assert ok(guest.call("GET", path))["status"] == "inactive"
    link = ok(guest.call("GET", f"/namespaces/_/triggers/{trigger}"))["rules"][f"guest/{name}"]
    assert link["status"] == "inactive"
    # Already in that state: still 200.
    assert guest.call("POST", path, json={"status": "inactive"}).status_code == 200
    assert guest.call("POST", path, json={"status": "active"}).status_code == 200
    assert ok(guest.call("GET", path))["status"] == "active"

    for bad in ({"status": "on"}, {}, {"status": None}):
        assert_error(guest.call("POST", path, json=bad), 400)
    assert_error(guest.call("POST", f"/namespaces/_/rules/{fresh('r')}", json=bad), 400)
    assert_error(
        guest.call("POST", f"/namespaces/_/rules/{fresh('r')}", json={"status": "active"}), 404
    )


def test_rule_of_a_deleted_trigger(guest: Client) -> None:
    trigger = _trigger(guest)
    name = _rule(guest, trigger, _action(guest))
    path = f"/namespaces/_/rules/{name}"
    ok(guest.call("DELETE", f"/namespaces/_/triggers/{trigger}"))

    assert ok(guest.call("GET", path))["status"] == "inactive"
    assert_error(
        guest.call("POST", path, json={"status": "active"}),
        404,
        "Only rules with existing triggers can be activated",
    )
    deleted = ok(guest.call("DELETE", path))
    assert deleted["status"] == "inactive"
    assert deleted["name"] == name
    assert_error(guest.call("GET", path), 404)


def test_rule_delete_removes_the_link(guest: Client) -> None:
    trigger = _trigger(guest)
    keep = _rule(guest, trigger, _action(guest))
    name = _rule(guest, trigger, _action(guest))
    deleted = ok(guest.call("DELETE", f"/namespaces/_/rules/{name}"))
    assert deleted["status"] == "inactive"
    links = ok(guest.call("GET", f"/namespaces/_/triggers/{trigger}"))["rules"]
    assert set(links) == {f"guest/{keep}"}
    assert_error(guest.call("DELETE", f"/namespaces/_/rules/{name}"), 404)
    # The trigger still fires its remaining active rule.
    assert guest.call("POST", f"/namespaces/_/triggers/{trigger}").status_code == 503


def test_rule_update_moves_the_link_and_keeps_the_status(guest: Client) -> None:
    first, second = _trigger(guest), _trigger(guest)
    action, new_action = _action(guest), _action(guest)
    name = _rule(guest, first, action)
    path = f"/namespaces/_/rules/{name}"
    assert guest.call("POST", path, json={"status": "inactive"}).ok

    updated = ok(
        guest.call(
            "PUT",
            f"{path}?overwrite=true",
            json={"trigger": f"/_/{second}", "action": f"/_/{new_action}"},
        )
    )
    assert updated["version"] == "0.0.2"
    assert updated["status"] == "inactive"
    assert updated["trigger"] == {"path": "guest", "name": second}
    assert updated["action"] == {"path": "guest", "name": new_action}
    assert "rules" not in ok(guest.call("GET", f"/namespaces/_/triggers/{first}"))
    link = ok(guest.call("GET", f"/namespaces/_/triggers/{second}"))["rules"][f"guest/{name}"]
    assert link == {"action": {"path": "guest", "name": new_action}, "status": "inactive"}

    # An update naming neither keeps both.
    kept = ok(guest.call("PUT", f"{path}?overwrite=true", json={"annotations": []}))
    assert kept["trigger"]["name"] == second
    assert kept["version"] == "0.0.3"


def test_trigger_update_keeps_rule_links(guest: Client) -> None:
    trigger = _trigger(guest)
    name = _rule(guest, trigger, _action(guest))
    updated = ok(
        guest.call(
            "PUT",
            f"/namespaces/_/triggers/{trigger}?overwrite=true",
            json={"parameters": [{"key": "a", "value": 1}]},
        )
    )
    assert set(updated["rules"]) == {f"guest/{name}"}
    assert ok(guest.call("GET", f"/namespaces/_/rules/{name}"))["status"] == "active"


def test_many_rules_on_one_trigger_keep_every_link(guest: Client) -> None:
    """Concurrent rule creations all rewrite the same trigger document: none is lost."""
    trigger, action = _trigger(guest), _action(guest)
    names = [fresh("r") for _ in range(8)]
    body = {"trigger": f"/_/{trigger}", "action": f"/_/{action}"}

    def create(name: str) -> int:
        client = Client(guest.base.removesuffix("/api/v1"), "")
        client.session.auth = guest.session.auth
        return client.call("PUT", f"/namespaces/_/rules/{name}", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, names))
    assert statuses == [200] * len(names), statuses
    links = ok(guest.call("GET", f"/namespaces/_/triggers/{trigger}"))["rules"]
    assert {f"guest/{n}" for n in names} <= set(links)


def test_rule_list_and_count(guest: Client) -> None:
    trigger, action = _trigger(guest), _action(guest)
    names = []
    for _ in range(2):
        names.append(_rule(guest, trigger, action))
        time.sleep(0.005)
    listed = ok(guest.call("GET", "/namespaces/_/rules?limit=2"))
    assert [r["name"] for r in listed] == list(reversed(names))
    assert listed[0]["trigger"] == {"path": "guest", "name": trigger}
    assert "status" not in listed[0]
    assert ok(guest.call("GET", "/namespaces/_/rules?count=true"))["rules"] >= 2
    assert_error(guest.call("GET", "/namespaces/_/rules?skip=-1"), 400)


def test_rule_put_over_another_collection_is_409(guest: Client) -> None:
    trigger, action = _trigger(guest), _action(guest)
    body = {"trigger": f"/_/{trigger}", "action": f"/_/{action}"}
    assert_error(
        guest.call("PUT", f"/namespaces/_/rules/{trigger}?overwrite=true", json=body),
        409,
        "Resource by this name exists but is not in this collection.",
    )


def test_rules_across_namespaces_are_403(guest: Client, other: Client) -> None:
    trigger, action = _trigger(guest), _action(guest)
    name = _rule(guest, trigger, action)
    path = f"/namespaces/guest/rules/{name}"
    assert_error(other.call("GET", path), 403, forbidden(f"guest/{name}"))
    assert_error(other.call("POST", path, json={"status": "inactive"}), 403)
    assert_error(other.call("DELETE", path), 403)
    assert_error(other.call("PUT", path, json={}), 403)
    assert_error(other.call("GET", "/namespaces/guest/rules"), 403, forbidden("guest"))

    # A rule of one's own may not name another namespace's trigger or (private) action.
    own_trigger, own_action = _trigger(other), _action(other)
    stolen_trigger = {"trigger": f"/guest/{trigger}", "action": f"/_/{own_action}"}
    assert_error(
        other.call("PUT", f"/namespaces/_/rules/{fresh('r')}", json=stolen_trigger),
        403,
        forbidden(f"guest/{trigger}"),
    )
    stolen_action = {"trigger": f"/_/{own_trigger}", "action": f"/guest/{action}"}
    assert_error(
        other.call("PUT", f"/namespaces/_/rules/{fresh('r')}", json=stolen_action),
        403,
        forbidden(f"guest/{action}"),
    )
    assert ok(guest.call("GET", path))["status"] == "active"


def test_rule_may_name_an_action_in_a_public_package(guest: Client, other: Client) -> None:
    package = fresh("p")
    ok(guest.call("PUT", f"/namespaces/_/packages/{package}", json={"publish": True}))
    action = fresh("a")
    ok(guest.call("PUT", f"/namespaces/_/actions/{package}/{action}", json=ACTION))
    trigger = _trigger(other)
    body = {"trigger": f"/_/{trigger}", "action": f"/guest/{package}/{action}"}
    created = ok(other.call("PUT", f"/namespaces/_/rules/{fresh('r')}", json=body))
    assert created["action"] == {"path": f"guest/{package}", "name": action}
    assert created["status"] == "active"
