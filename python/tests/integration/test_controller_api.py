"""The controller's REST API, served by the real daemon over the real CouchDB-API server.

Subjects are made with `wskadmin`, as an operator would; activation records are written by
the test straight into the activations database, since invokers arrive with the next issue.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import pytest
import requests

from tests.integration.controller_support import HELLO_JS, Client, assert_error, fresh
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer

pytestmark = pytest.mark.integration


DB_PREFIX = "api_"


def test_api_info_needs_no_credentials(controller: ControllerProcess) -> None:
    info = requests.get(f"{controller.url}/api/v1", timeout=10).json()
    assert info["api_version"] == "1.0.0"
    assert info["api_version_path"] == "v1"


def test_missing_or_wrong_credentials_are_401(controller: ControllerProcess, guest: Client) -> None:
    anonymous = requests.get(f"{controller.url}/api/v1/namespaces", timeout=10)
    assert_error(anonymous, 401, "The supplied authentication is invalid.")
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="OpenWhisk secure realm"'

    user = guest.session.auth[0]  # type: ignore[index]
    wrong_key = requests.get(
        f"{controller.url}/api/v1/namespaces", auth=(user, "x" * 64), timeout=10
    )
    assert_error(wrong_key, 401)
    garbage = requests.get(
        f"{controller.url}/api/v1/namespaces",
        headers={"Authorization": "Basic " + base64.b64encode(b"\xff\xfe").decode()},
        timeout=10,
    )
    assert_error(garbage, 401)


def test_namespaces_lists_only_the_callers(guest: Client) -> None:
    assert guest.call("GET", "/namespaces").json() == ["guest"]


def test_request_id_is_echoed(guest: Client) -> None:
    response = guest.call("GET", "/namespaces", headers={"X-Request-ID": "abc123"})
    assert response.headers["X-Request-ID"] == "abc123"
    missing = guest.call("GET", "/namespaces/_/actions/nope", headers={"X-Request-ID": "t-42"})
    assert_error(missing, 404, "The requested resource does not exist.")
    assert missing.json()["code"] == "t-42"


def test_cors_preflight_and_headers(guest: Client) -> None:
    preflight = guest.session.options(f"{guest.base}/namespaces/_/actions", timeout=10)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    listed = guest.call("GET", "/namespaces")
    assert "Authorization" in listed.headers["Access-Control-Allow-Headers"]


def test_action_create_get_update_delete(guest: Client) -> None:
    name = fresh()
    body = {"exec": {"kind": "nodejs:default", "code": HELLO_JS}}
    created = guest.call("PUT", f"/namespaces/_/actions/{name}", json=body)
    assert created.status_code == 200, created.text
    action = created.json()
    assert action["namespace"] == "guest"
    assert action["name"] == name
    assert action["version"] == "0.0.1"
    assert action["exec"] == {"kind": "nodejs:18", "code": HELLO_JS, "binary": False}
    assert {"key": "exec", "value": "nodejs:18"} in action["annotations"]
    assert action["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}

    fetched = guest.call("GET", f"/namespaces/guest/actions/{name}").json()
    assert fetched == action
    without_code = guest.call("GET", f"/namespaces/guest/actions/{name}?code=false").json()
    assert "code" not in without_code["exec"]

    again = guest.call("PUT", f"/namespaces/_/actions/{name}", json=body)
    assert_error(again, 409, "resource already exists")

    updated = guest.call(
        "PUT",
        f"/namespaces/_/actions/{name}?overwrite=true",
        json={"limits": {"timeout": 1000}, "parameters": [{"key": "x", "value": 1}]},
    ).json()
    assert updated["version"] == "0.0.2"
    assert updated["limits"]["timeout"] == 1000
    assert updated["limits"]["memory"] == 256
    assert updated["exec"]["code"] == HELLO_JS

    deleted = guest.call("DELETE", f"/namespaces/_/actions/{name}")
    assert deleted.status_code == 200
    assert deleted.json()["version"] == "0.0.2"
    assert_error(guest.call("GET", f"/namespaces/_/actions/{name}"), 404)
    assert_error(guest.call("DELETE", f"/namespaces/_/actions/{name}"), 404)


def test_action_list_paging_and_count(guest: Client) -> None:
    names = [fresh("list") for _ in range(3)]
    for name in names:
        body = {"exec": {"kind": "python:3", "code": "def main(a): return a"}}
        assert guest.call("PUT", f"/namespaces/_/actions/{name}", json=body).ok
        time.sleep(0.005)
    listed = guest.call("GET", "/namespaces/_/actions?limit=3").json()
    assert [a["name"] for a in listed] == list(reversed(names))
    assert all("code" not in a["exec"] for a in listed)
    second = guest.call("GET", "/namespaces/_/actions?limit=1&skip=1").json()
    assert [a["name"] for a in second] == [names[1]]
    count = guest.call("GET", "/namespaces/_/actions?count=true").json()
    assert count["actions"] >= 3
    assert_error(guest.call("GET", "/namespaces/_/actions?limit=201"), 400)
    assert_error(guest.call("GET", "/namespaces/_/actions?skip=-1"), 400)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"exec": {"kind": "cobol:1", "code": "x"}}, None),
        ({"exec": {"kind": "nodejs:18"}}, None),
        ({"exec": {"kind": "nodejs:18", "code": "x"}, "limits": {"memory": 64}}, None),
        ({"exec": {"kind": "nodejs:18", "code": "x"}, "limits": {"timeout": "slow"}}, None),
        ({"parameters": "not a list", "exec": {"kind": "nodejs:18", "code": "x"}}, None),
        ({}, None),
    ],
)
def test_bad_action_bodies_are_400(
    guest: Client, body: dict[str, Any], message: str | None
) -> None:
    assert_error(guest.call("PUT", f"/namespaces/_/actions/{fresh()}", json=body), 400, message)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe\x00", b'{"exec": {"kind": 5}}'],
)
def test_malformed_bodies_are_400(guest: Client, raw: bytes) -> None:
    response = guest.call(
        "PUT",
        f"/namespaces/_/actions/{fresh()}",
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400)


def test_bad_names_are_400(guest: Client) -> None:
    for name in ["bad%20name%20", "%24dollar", "a/b/c"]:
        response = guest.call("GET", f"/namespaces/_/actions/{name}")
        assert_error(response, 400)


def test_oversized_code_is_413(guest: Client) -> None:
    body = {"exec": {"kind": "nodejs:18", "code": "x" * (48 * 1024 * 1024 + 1)}}
    assert_error(guest.call("PUT", f"/namespaces/_/actions/{fresh()}", json=body), 413)


def test_oversized_parameters_are_413(guest: Client) -> None:
    body = {
        "exec": {"kind": "nodejs:18", "code": "x"},
        "parameters": [{"key": "big", "value": "y" * (1024 * 1024)}],
    }
    assert_error(guest.call("PUT", f"/namespaces/_/actions/{fresh()}", json=body), 413)


def test_other_namespace_is_403(guest: Client, other: Client) -> None:
    name = fresh()
    body = {"exec": {"kind": "nodejs:18", "code": HELLO_JS}}
    assert guest.call("PUT", f"/namespaces/_/actions/{name}", json=body).ok
    stolen = other.call("GET", f"/namespaces/guest/actions/{name}")
    assert_error(
        stolen, 403, f"The supplied authentication is not authorized to access 'guest/{name}'."
    )
    assert_error(other.call("GET", "/namespaces/guest/actions"), 403)
    assert_error(other.call("DELETE", f"/namespaces/guest/actions/{name}"), 403)
    assert other.call("GET", f"/namespaces/_/actions/{name}").status_code == 404


def test_invoke_answers_an_honest_503_until_invokers_exist(guest: Client) -> None:
    name = fresh()
    assert guest.call(
        "PUT", f"/namespaces/_/actions/{name}", json={"exec": {"kind": "nodejs:18", "code": "x"}}
    ).ok
    assert_error(guest.call("POST", f"/namespaces/_/actions/{name}"), 503, "No invokers available.")
    assert_error(guest.call("POST", f"/namespaces/_/actions/{fresh()}"), 404)
    big = {"payload": "x" * (1024 * 1024)}
    assert_error(guest.call("POST", f"/namespaces/_/actions/{name}", json=big), 413)


def test_unknown_route_and_method_keep_the_error_body(guest: Client) -> None:
    assert_error(guest.call("GET", "/no/such/route"), 404)
    assert_error(guest.call("PATCH", "/namespaces/_/actions/x"), 405)


def _write_activation(couchdb: CouchDBServer, namespace: str, name: str, start: int) -> str:
    activation_id = uuid.uuid4().hex
    doc: dict[str, Any] = {
        "entityType": "activation",
        "namespace": namespace,
        "name": name,
        "subject": "guest-user",
        "activationId": activation_id,
        "version": "0.0.1",
        "publish": False,
        "start": start,
        "end": start + 5,
        "response": {"statusCode": 0, "result": {"msg": "Hello World"}},
        "logs": ["2026-11-26T10:00:00.000Z stdout: Hello World"],
        "annotations": [{"key": "path", "value": f"{namespace}/{name}"}],
    }
    response = requests.put(
        f"{couchdb.url}/api_activations/{namespace}%2F{activation_id}",
        json=doc,
        auth=couchdb.admin_auth,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return activation_id


def test_activations_list_get_result_logs(guest: Client, couchdb: CouchDBServer) -> None:
    name = fresh("act")
    base = int(time.time() * 1000)
    ids = [_write_activation(couchdb, "guest", name, base + i) for i in range(3)]

    listed = guest.call("GET", f"/namespaces/_/activations?name={name}").json()
    assert [a["activationId"] for a in listed] == list(reversed(ids))
    assert listed[0]["statusCode"] == 0
    assert "response" not in listed[0]
    docs = guest.call("GET", f"/namespaces/_/activations?name={name}&docs=true").json()
    assert docs[0]["response"]["result"] == {"msg": "Hello World"}
    ranged = guest.call(
        "GET", f"/namespaces/_/activations?name={name}&since={base + 1}&upto={base + 1}"
    ).json()
    assert [a["activationId"] for a in ranged] == [ids[1]]
    count = guest.call("GET", f"/namespaces/_/activations?name={name}&count=true").json()
    assert count == {"activations": 3}
    assert_error(guest.call("GET", "/namespaces/_/activations?count=true&docs=true"), 400)

    record = guest.call("GET", f"/namespaces/_/activations/{ids[0]}").json()
    assert record["activationId"] == ids[0]
    assert record["response"]["status"] == "success"
    assert record["duration"] == 5
    result = guest.call("GET", f"/namespaces/_/activations/{ids[0]}/result").json()
    assert result["result"] == {"msg": "Hello World"}
    assert result["success"] is True
    logs = guest.call("GET", f"/namespaces/_/activations/{ids[0]}/logs").json()
    assert logs == {"logs": ["2026-11-26T10:00:00.000Z stdout: Hello World"]}

    assert_error(guest.call("GET", "/namespaces/_/activations/not-an-id"), 400)
    assert_error(guest.call("GET", f"/namespaces/_/activations/{uuid.uuid4().hex}"), 404)


def test_activations_of_another_namespace_are_403(
    guest: Client, other: Client, couchdb: CouchDBServer
) -> None:
    activation_id = _write_activation(couchdb, "guest", fresh("act"), int(time.time() * 1000))
    assert_error(other.call("GET", f"/namespaces/guest/activations/{activation_id}"), 403)
    assert other.call("GET", f"/namespaces/_/activations/{activation_id}").status_code == 404


def test_rotated_key_replaces_the_old_one(controller: ControllerProcess) -> None:
    subject = fresh("rot")
    client = Client(controller.url, controller.create_subject(subject, fresh("ns")))
    assert client.call("GET", "/namespaces").status_code == 200

    rotated = controller.wskadmin("user", "rotate", subject)
    assert rotated.returncode == 0, rotated.stderr
    new_client = Client(controller.url, rotated.stdout.strip())
    # The controller learns of the rotation from the subjects database's changes feed.
    deadline = time.monotonic() + 5
    while client.call("GET", "/namespaces").status_code != 401 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert_error(client.call("GET", "/namespaces"), 401)
    assert new_client.call("GET", "/namespaces").status_code == 200


def test_deleted_subject_loses_access(controller: ControllerProcess) -> None:
    subject = fresh("del")
    client = Client(controller.url, controller.create_subject(subject, fresh("ns")))
    assert client.call("GET", "/namespaces").status_code == 200
    assert controller.wskadmin("user", "delete", subject).returncode == 0
    deadline = time.monotonic() + 5
    while client.call("GET", "/namespaces").status_code != 401 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert_error(client.call("GET", "/namespaces"), 401)


def _reads_of(couchdb: CouchDBServer, path: str) -> int:
    """GET requests for ``path`` in the CouchDB-API server's own request log."""
    time.sleep(0.5)  # the server writes its log asynchronously
    log = couchdb.workdir / "pouchdb-server-requests.log"
    return sum(1 for line in log.read_text().splitlines() if f" GET {path} " in line)


def test_warm_reads_make_no_database_requests_and_see_other_controllers_writes(
    test_logs: Any, couchdb: CouchDBServer, controller: ControllerProcess, guest: Client
) -> None:
    name = fresh("cache")
    body = {"exec": {"kind": "nodejs:18", "code": HELLO_JS}}
    assert guest.call("PUT", f"/namespaces/_/actions/{name}", json=body).ok
    doc_path = f"/api_whisks/guest%2F{name}"
    assert guest.call("GET", f"/namespaces/_/actions/{name}").ok
    before = _reads_of(couchdb, doc_path)
    for _ in range(20):
        assert guest.call("GET", f"/namespaces/_/actions/{name}").json()["version"] == "0.0.1"
    assert _reads_of(couchdb, doc_path) == before

    second = ControllerProcess(test_logs / "controller-2", couchdb, db_prefix="api_")
    second.start()
    try:
        other_controller = Client(second.url, "")
        other_controller.session.auth = guest.session.auth
        update = {"parameters": [{"key": "greeting", "value": "hi"}]}
        updated = other_controller.call(
            "PUT", f"/namespaces/_/actions/{name}?overwrite=true", json=update
        )
        assert updated.json()["version"] == "0.0.2"
        # The other controller had to read the document: the log does count such reads.
        assert _reads_of(couchdb, doc_path) > before
        deadline = time.monotonic() + 2
        seen = guest.call("GET", f"/namespaces/_/actions/{name}").json()
        while seen["version"] != "0.0.2" and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = guest.call("GET", f"/namespaces/_/actions/{name}").json()
        assert seen["version"] == "0.0.2"
        assert seen["parameters"] == [{"key": "greeting", "value": "hi"}]
    finally:
        second.stop()


def test_namespace_limits_show_defaults_then_what_wskadmin_sets(
    controller: ControllerProcess,
) -> None:
    namespace = fresh("lim")
    client = Client(controller.url, controller.create_subject(fresh("limuser"), namespace))
    limits = client.call("GET", "/namespaces/_/limits").json()
    assert limits["invocationsPerMinute"] == 60
    assert limits["concurrentInvocations"] == 30
    assert limits["firesPerMinute"] == 60
    assert limits["maxActionMemory"] == 512 * 1024 * 1024

    result = controller.wskadmin("limits", "set", namespace, "--invocationsPerMinute", "120")
    assert result.returncode == 0, result.stderr
    shown = controller.wskadmin("limits", "get", namespace)
    assert shown.stdout.splitlines() == ["invocationsPerMinute = 120"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        limits = client.call("GET", "/namespaces/_/limits").json()
        if limits["invocationsPerMinute"] == 120:
            break
        time.sleep(0.1)
    assert limits["invocationsPerMinute"] == 120
    assert limits["firesPerMinute"] == 60
    bad = controller.wskadmin("limits", "set", namespace, "--firesPerMinute", "-5")
    assert bad.returncode != 0
