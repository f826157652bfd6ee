"""`wsk`, run as a process, against the real controller over the real CouchDB-API server.

Every command that needs no invoker is run end to end with its own properties file (a temporary
`WSK_CONFIG_FILE` and `HOME`, so a developer's `~/.wskprops` is never read), and its exact output
lines and exit code are checked. Activation records are written straight into the activations
database, as test_controller_api.py does, since invokers do not exist yet. Commands of the
trigger, rule and package routes are tested only when the controller's OpenAPI document lists
those routes.
"""

from __future__ import annotations

import json
import re
import stat
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.wsk_support import (
    EXIT_BAD_REQUEST,
    EXIT_CONFLICT,
    EXIT_FORBIDDEN,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_UNAUTHORIZED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    Wsk,
    assert_fails,
)
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer

pytestmark = pytest.mark.integration

DB_PREFIX = "cli_"
HELLO_JS = "function main(params) { return {msg: 'Hello ' + params.name}; }\n"
HELLO_PY = "def main(args):\n    return {'msg': 'Hello ' + args.get('name', '')}\n"
NAME_COLUMN = 70


def fresh(prefix: str = "a") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def row(namespace: str, name: str, tail: str = "private") -> str:
    """One line of an entity list: the path padded to 70 columns, then the rest."""
    return f"{f'/{namespace}/{name}':<{NAME_COLUMN}} {tail}"


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def configure(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Wsk]:
    """A new subject with namespace ``namespace`` and a `wsk` configured for it."""

    def make(namespace: str) -> Wsk:
        key = controller.create_subject(f"{namespace}-user", namespace)
        wsk = Wsk(tmp_path_factory.mktemp(namespace) / "wskprops", key)
        wsk.ok(
            "property", "set", "--apihost", controller.url, "--auth", key, "--namespace", namespace
        )
        return wsk

    return make


@pytest.fixture(scope="module")
def guest(configure: Callable[[str], Wsk]) -> Wsk:
    return configure("guest")


def server_error(controller: ControllerProcess, key: str, method: str, path: str) -> str:
    """The message the API itself answers for a request, to compare with what wsk prints."""
    user, _, password = key.partition(":")
    response = requests.request(
        method, f"{controller.url}/api/v1{path}", auth=(user, password), timeout=10
    )
    assert response.status_code >= 400, response.text
    return str(response.json()["error"])


def write_file(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


# --- property ----------------------------------------------------------------------------


def test_property_set_get_unset(controller: ControllerProcess, tmp_path: Path) -> None:
    wsk = Wsk(tmp_path / "props")
    key = f"{uuid.uuid4()}:{'k' * 64}"
    assert wsk.ok(
        "property", "set", "--apihost", controller.url, "--auth", key, "--namespace", "guest"
    ) == [
        "ok: whisk auth set. Run 'wsk property get --auth' to see the new value.",
        f"ok: whisk API host set to {controller.url}",
        "ok: whisk namespace set to guest",
    ]
    assert stat.S_IMODE(wsk.props.stat().st_mode) == 0o600
    assert wsk.props.read_text().splitlines() == [
        f"AUTH={key}",
        f"APIHOST={controller.url}",
        "NAMESPACE=guest",
    ]
    assert wsk.ok("property", "get", "--apihost") == [f"whisk API host\t\t{controller.url}"]
    assert wsk.ok("property", "get", "--auth", "-o", "raw") == [key]
    assert wsk.ok("property", "get") == [
        f"whisk auth\t\t{key}",
        f"whisk API host\t\t{controller.url}",
        "whisk namespace\t\tguest",
        "whisk API version\tv1",
        "whisk CLI version\twhisk_services",
    ]
    assert wsk.ok("property", "set", "--apiversion", "v1") == ["ok: whisk API version set to v1"]
    assert wsk.ok("property", "unset", "--namespace", "--apiversion") == [
        "ok: whisk namespace unset.",
        "ok: whisk API version unset.",
    ]
    assert wsk.ok("property", "get", "--namespace") == ["whisk namespace\t\t_"]


# --- actions -----------------------------------------------------------------------------


def test_action_create_from_js_with_flags(guest: Wsk, tmp_path: Path) -> None:
    name = fresh("js")
    code = write_file(tmp_path, "hello.js", HELLO_JS)
    assert guest.ok(
        "action", "create", name, code,
        "-p", "name", "World", "-p", "count", "3",
        "-a", "description", "says hello", "--web", "true",
        "-t", "1000", "-m", "128", "-l", "5", "-c", "1",
    ) == [f"ok: created action {name}"]  # fmt: skip

    action = guest.json("action", "get", name, header=f"ok: got action {name}")
    assert action["namespace"] == "guest"
    assert action["name"] == name
    assert action["version"] == "0.0.1"
    assert action["exec"] == {"kind": "nodejs:18", "code": HELLO_JS, "binary": False}
    assert action["parameters"] == [
        {"key": "name", "value": "World"},
        {"key": "count", "value": 3},
    ]
    assert action["limits"] == {"timeout": 1000, "memory": 128, "logs": 5, "concurrency": 1}
    annotations = {a["key"]: a["value"] for a in action["annotations"]}
    assert annotations["description"] == "says hello"
    assert annotations["web-export"] is True
    assert annotations["raw-http"] is False
    assert annotations["final"] is True
    assert annotations["exec"] == "nodejs:18"

    assert guest.ok("action", "get", name, "--summary") == [
        f"action /guest/{name}: says hello",
        "   (parameters: name, count)",
    ]
    limits = guest.json(
        "action", "get", name, "limits", header=f"ok: got action {name}, displaying field limits"
    )
    assert limits == action["limits"]
    invalid_field = guest("action", "get", name, "nosuchfield")
    assert (invalid_field.code, invalid_field.err) == (
        1,
        "error: Invalid field filter 'nosuchfield'.\n",
    )


def test_action_create_from_py_with_kind_and_param_file(guest: Wsk, tmp_path: Path) -> None:
    code = write_file(tmp_path, "hello.py", HELLO_PY)
    default_kind, explicit_kind = fresh("py"), fresh("py")
    assert guest.ok("action", "create", default_kind, code) == [
        f"ok: created action {default_kind}"
    ]
    params = write_file(tmp_path, "params.json", json.dumps({"name": "file", "n": [1, 2]}))
    assert guest.ok(
        "action", "create", explicit_kind, code, "--kind", "python:3", "-P", params,
        "--main", "main",
    ) == [f"ok: created action {explicit_kind}"]  # fmt: skip

    first = guest.json("action", "get", default_kind, header=f"ok: got action {default_kind}")
    assert first["exec"] == {"kind": "python:3.11", "code": HELLO_PY, "binary": False}
    second = guest.json("action", "get", explicit_kind, header=f"ok: got action {explicit_kind}")
    assert second["exec"]["kind"] == "python:3"
    assert second["exec"]["main"] == "main"
    assert second["parameters"] == [
        {"key": "name", "value": "file"},
        {"key": "n", "value": [1, 2]},
    ]


def test_action_update_keeps_what_it_does_not_name(guest: Wsk, tmp_path: Path) -> None:
    name = fresh("up")
    code = write_file(tmp_path, "hello.js", HELLO_JS)
    guest.ok("action", "create", name, code, "-t", "2000")
    assert guest.ok("action", "update", name, "-p", "name", "again") == [
        f"ok: updated action {name}"
    ]
    updated = guest.json("action", "get", name, header=f"ok: got action {name}")
    assert updated["version"] == "0.0.2"
    assert updated["exec"]["code"] == HELLO_JS
    assert updated["limits"]["timeout"] == 2000
    assert updated["parameters"] == [{"key": "name", "value": "again"}]

    new_code = write_file(tmp_path, "other.py", HELLO_PY)
    assert guest.ok("action", "update", name, new_code, "--memory", "512") == [
        f"ok: updated action {name}"
    ]
    again = guest.json("action", "get", name, header=f"ok: got action {name}")
    assert again["version"] == "0.0.3"
    assert again["exec"] == {"kind": "python:3.11", "code": HELLO_PY, "binary": False}
    assert again["limits"]["memory"] == 512


def test_action_list_and_delete(configure: Callable[[str], Wsk], tmp_path: Path) -> None:
    wsk = configure("clilist")
    js = write_file(tmp_path, "a.js", HELLO_JS)
    py = write_file(tmp_path, "b.py", HELLO_PY)
    assert wsk.ok("action", "list") == ["actions"]
    wsk.ok("action", "create", "zeta", js)
    time.sleep(0.01)
    wsk.ok("action", "create", "alpha", py, "--kind", "python:3")
    newest_first = [
        "actions",
        row("clilist", "alpha", "private python:3"),
        row("clilist", "zeta", "private nodejs:18"),
    ]
    assert wsk.ok("action", "list") == newest_first
    assert wsk.ok("action", "list", "/clilist") == newest_first
    assert wsk.ok("action", "list", "--limit", "1") == newest_first[:2]
    assert wsk.ok("action", "list", "--skip", "1") == ["actions", newest_first[2]]
    time.sleep(0.01)
    wsk.ok("action", "update", "zeta", "-p", "x", "1")
    assert wsk.ok("action", "list", "--name-sort") == newest_first

    assert wsk.ok("action", "delete", "zeta") == ["ok: deleted action zeta"]
    assert wsk.ok("action", "list") == newest_first[:2]
    assert_fails(
        wsk("action", "delete", "zeta"),
        EXIT_NOT_FOUND,
        "Unable to delete action 'zeta': The requested resource does not exist.",
    )
    assert_fails(
        wsk("action", "get", "zeta"),
        EXIT_NOT_FOUND,
        "Unable to get action 'zeta': The requested resource does not exist.",
    )
    assert wsk.ok("action", "delete", "/clilist/alpha") == ["ok: deleted action alpha"]
    assert wsk.ok("action", "list") == ["actions"]


def test_action_invoke_reports_the_servers_503(
    guest: Wsk, controller: ControllerProcess, configure: Callable[[str], Wsk],
    tmp_path: Path,
) -> None:  # fmt: skip
    name = fresh("inv")
    guest.ok("action", "create", name, write_file(tmp_path, "h.js", HELLO_JS))
    wsk = configure("cliinvoke")
    wsk.ok("action", "create", name, write_file(tmp_path, "h.js", HELLO_JS))
    message = server_error(controller, wsk.key, "POST", f"/namespaces/_/actions/{name}")
    assert message == "No invokers available."
    for flags in ([], ["--blocking"], ["--result"], ["-p", "name", "x"]):
        assert_fails(
            wsk("action", "invoke", name, *flags),
            EXIT_UNAVAILABLE,
            f"Unable to invoke action '{name}': {message}",
        )
    assert_fails(
        wsk("action", "invoke", "missing"),
        EXIT_NOT_FOUND,
        "Unable to invoke action 'missing': The requested resource does not exist.",
    )


# --- errors ------------------------------------------------------------------------------


def test_action_errors_carry_the_servers_message(
    guest: Wsk, controller: ControllerProcess, tmp_path: Path
) -> None:
    name = fresh("err")
    code = write_file(tmp_path, "h.js", HELLO_JS)
    guest.ok("action", "create", name, code)
    assert_fails(
        guest("action", "create", name, code),
        EXIT_CONFLICT,
        f"Unable to create action '{name}': resource already exists",
    )
    bad_kind = guest("action", "create", fresh(), code, "--kind", "cobol:1")
    assert_fails(
        bad_kind,
        EXIT_BAD_REQUEST,
        f"Unable to create action '{bad_kind.err.split(chr(39))[1]}': The specified runtime"
        " 'cobol:1' is not supported by this platform.",
    )
    too_small = fresh()
    assert_fails(
        guest("action", "create", too_small, code, "--memory", "64"),
        EXIT_BAD_REQUEST,
        f"Unable to create action '{too_small}': memory 64 MB below allowed threshold of 128 MB",
    )
    unknown = fresh()
    assert_fails(
        guest("action", "get", unknown),
        EXIT_NOT_FOUND,
        f"Unable to get action '{unknown}': The requested resource does not exist.",
    )


def test_other_namespace_is_forbidden(
    guest: Wsk, configure: Callable[[str], Wsk], controller: ControllerProcess,
    tmp_path: Path,
) -> None:  # fmt: skip
    name = fresh("own")
    guest.ok("action", "create", name, write_file(tmp_path, "h.js", HELLO_JS))
    other = configure("cliother")
    message = server_error(controller, other.key, "GET", f"/namespaces/guest/actions/{name}")
    assert message == f"The supplied authentication is not authorized to access 'guest/{name}'."
    assert_fails(
        other("action", "get", f"/guest/{name}"),
        EXIT_FORBIDDEN,
        f"Unable to get action '{name}': {message}",
    )
    assert_fails(
        other("action", "delete", f"/guest/{name}"),
        EXIT_FORBIDDEN,
        f"Unable to delete action '{name}': {message}",
    )


def test_wrong_key_and_unreachable_host(
    guest: Wsk, controller: ControllerProcess, tmp_path: Path
) -> None:
    assert_fails(
        guest("--auth", f"{uuid.uuid4()}:{'x' * 64}", "namespace", "list"),
        EXIT_UNAUTHORIZED,
        "Unable to obtain the list of available namespaces: The supplied authentication is"
        " invalid.",
    )
    unreachable = guest("--apihost", "http://127.0.0.1:1", "namespace", "list")
    assert unreachable.code == EXIT_NETWORK
    assert unreachable.out == ""
    assert unreachable.err.startswith(
        "error: Unable to obtain the list of available namespaces: Unable to connect to"
        " http://127.0.0.1: "
    )


def test_local_errors(tmp_path: Path, guest: Wsk) -> None:
    unconfigured = Wsk(tmp_path / "empty-props")
    result = unconfigured("action", "list")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: The API host is not valid: An API host must be provided."
        " Run 'wsk property set --apihost HOST' or pass --apihost.\n"
    )
    no_code = guest("action", "create", "nocode")
    assert (no_code.code, no_code.out) == (EXIT_USAGE, "")
    assert no_code.err == (
        "error: Unable to create action 'nocode': An action name and code artifact are required.\n"
    )
    missing = guest("action", "create", "nofile", str(tmp_path / "absent.js"))
    assert (missing.code, missing.out) == (1, "")
    assert missing.err.startswith(
        f"error: Unable to create action 'nofile': Unable to read the file"
        f" '{tmp_path / 'absent.js'}': "
    )
    bad_name = guest("action", "get", "a/b/c")
    assert (bad_name.code, bad_name.out) == (1, "")
    assert bad_name.err == (
        "error: 'a/b/c' is not a valid qualified name: A valid qualified name must be specified.\n"
    )
    unsupported = guest("api", "list")
    assert (unsupported.code, unsupported.out) == (EXIT_USAGE, "")
    assert unsupported.err == 'error: "api" is not supported yet\n'
    code = write_file(tmp_path, "x.js", HELLO_JS)
    bad_web = guest("action", "create", "web", code, "--web", "maybe")
    assert (bad_web.code, bad_web.out) == (1, "")
    assert bad_web.err == (
        "error: Unable to create action 'web': Invalid argument 'maybe' for --web flag."
        " Valid input consist of 'yes', 'true', 'raw', 'false', or 'no'.\n"
    )


# --- namespaces and `wsk list` -----------------------------------------------------------


def test_namespace_list(guest: Wsk) -> None:
    assert guest.ok("namespace", "list") == ["namespaces", "guest"]


def test_list_shows_each_collection(configure: Callable[[str], Wsk], tmp_path: Path) -> None:
    wsk = configure("cliall")
    empty = ["Entities in namespace: cliall", "packages", "actions", "triggers", "rules"]
    assert wsk.ok("list") == empty
    wsk.ok("action", "create", "hello", write_file(tmp_path, "h.js", HELLO_JS))
    wsk.ok("trigger", "create", "tick")
    wsk.ok("rule", "create", "every", "tick", "hello")
    wsk.ok("package", "create", "tools")
    expected = [
        "Entities in namespace: cliall",
        "packages",
        row("cliall", "tools"),
        "actions",
        row("cliall", "hello", "private nodejs:18"),
        "triggers",
        row("cliall", "tick"),
        "rules",
        row("cliall", "every", f"{'private':<20} active"),
    ]
    assert wsk.ok("list") == expected
    assert wsk.ok("namespace", "get") == expected
    assert wsk.ok("list", "/cliall", "--name-sort") == expected


# --- activations -------------------------------------------------------------------------


def write_activation(
    couchdb: CouchDBServer, namespace: str, name: str, start: int, *, cold: bool = False
) -> str:
    activation_id = uuid.uuid4().hex
    annotations: list[dict[str, Any]] = [
        {"key": "path", "value": f"{namespace}/{name}"},
        {"key": "kind", "value": "nodejs:18"},
    ]
    if cold:
        annotations.append({"key": "initTime", "value": 3})
    doc: dict[str, Any] = {
        "entityType": "activation",
        "namespace": namespace,
        "name": name,
        "subject": f"{namespace}-user",
        "activationId": activation_id,
        "version": "0.0.1",
        "publish": False,
        "start": start,
        "end": start + 5,
        "response": {"statusCode": 0, "result": {"msg": "Hello World", "n": 1}},
        "logs": ["2026-11-26T10:00:00.000Z stdout: Hello World"],
        "annotations": annotations,
    }
    response = requests.put(
        f"{couchdb.url}/{DB_PREFIX}activations/{namespace}%2F{activation_id}",
        json=doc,
        auth=couchdb.admin_auth,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return activation_id


def local_seconds(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms // 1000).astimezone()


def test_activation_list_get_result_logs(guest: Wsk, couchdb: CouchDBServer) -> None:
    name = fresh("act")
    base = int(time.time() * 1000)
    warm = write_activation(couchdb, "guest", name, base)
    cold = write_activation(couchdb, "guest", name, base + 1, cold=True)

    def line(activation_id: str, start: int, temperature: str) -> str:
        when = local_seconds(start).strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"{when} {activation_id} nodejs:18 {temperature:<5} 5ms        success"
            f" guest/{name}:0.0.1"
        )

    header = (
        "Datetime            Activation ID                    Kind      Start Duration   Status"
        "  Entity"
    )
    assert guest.ok("activation", "list", name) == [
        header,
        line(cold, base + 1, "cold"),
        line(warm, base, "warm"),
    ]
    assert guest.ok("activation", "list", name, "--limit", "1") == [
        header,
        line(cold, base + 1, "cold"),
    ]
    assert guest.ok("activation", "list", name, "--since", str(base), "--upto", str(base)) == [
        header,
        line(warm, base, "warm"),
    ]
    full = guest.ok("activation", "list", name, "--full")
    assert full[0] == "activations"
    newest, _ = json.JSONDecoder().raw_decode("\n".join(full[1:]))
    assert newest["activationId"] == cold
    assert newest["response"]["result"] == {"msg": "Hello World", "n": 1}

    record = guest.json("activation", "get", warm, header=f"ok: got activation {warm}")
    assert record["activationId"] == warm
    assert record["namespace"] == "guest"
    assert record["response"]["status"] == "success"
    assert record["response"]["result"] == {"msg": "Hello World", "n": 1}
    assert record["duration"] == 5
    assert guest.json(
        "activation",
        "get",
        warm,
        "logs",
        header=f"ok: got activation {warm}, displaying field logs",
    ) == ["2026-11-26T10:00:00.000Z stdout: Hello World"]

    at = local_seconds(base + 5).strftime("%Y-%m-%d %H:%M:%S %z %Z")
    assert guest.ok("activation", "get", warm, "--summary") == [
        f"activation result for /guest/{name} (success at {at})",
        "{",
        '    "msg": "Hello World",',
        '    "n": 1',
        "}",
    ]
    assert guest.ok("activation", "get", warm, "--logs") == ["Hello World"]
    assert guest.ok("activation", "result", warm) == [
        "{",
        '    "msg": "Hello World",',
        '    "n": 1',
        "}",
    ]
    assert guest.ok("activation", "logs", warm) == ["2026-11-26T10:00:00.000Z stdout: Hello World"]
    assert guest.ok("activation", "logs", warm, "--strip") == ["Hello World"]


def test_activation_last(configure: Callable[[str], Wsk], couchdb: CouchDBServer) -> None:
    wsk = configure("clilast")
    none_yet = wsk("activation", "result", "--last")
    assert (none_yet.code, none_yet.out) == (1, "")
    assert none_yet.err == "error: Activation list does not contain any activations.\n"
    base = int(time.time() * 1000)
    write_activation(couchdb, "clilast", "first", base)
    newest = write_activation(couchdb, "clilast", "second", base + 10)
    assert wsk.ok("activation", "get", "--last", "activationId") == [
        f"ok: got activation {newest}, displaying field activationId",
        f'"{newest}"',
    ]
    assert wsk.ok("activation", "logs", "--last", "--strip") == ["Hello World"]
    assert wsk.ok("activation", "result", "--last")[0] == "{"


def test_activation_errors(guest: Wsk, controller: ControllerProcess) -> None:
    message = server_error(controller, guest.key, "GET", "/namespaces/_/activations/not-an-id")
    assert_fails(
        guest("activation", "get", "not-an-id"),
        EXIT_BAD_REQUEST,
        f"Unable to get activation 'not-an-id': {message}",
    )
    unknown = uuid.uuid4().hex
    assert_fails(
        guest("activation", "result", unknown),
        EXIT_NOT_FOUND,
        f"Unable to get result for activation '{unknown}': The requested resource does not exist.",
    )
    assert_fails(
        guest("activation", "logs", unknown),
        EXIT_NOT_FOUND,
        f"Unable to get logs for activation '{unknown}': The requested resource does not exist.",
    )
    no_id = guest("activation", "get")
    assert (no_id.code, no_id.err) == (EXIT_USAGE, "error: An activation ID is required.\n")


# --- triggers, rules, packages (when the controller serves them) -------------------------


def test_trigger_commands(guest: Wsk) -> None:
    name = fresh("trg")
    assert guest.ok("trigger", "create", name, "-p", "a", "1") == [f"ok: created trigger {name}"]
    trigger = guest.json("trigger", "get", name, header=f"ok: got trigger {name}")
    assert trigger["parameters"] == [{"key": "a", "value": 1}]
    assert guest.ok("trigger", "update", name, "-a", "note", "x") == [f"ok: updated trigger {name}"]
    updated = guest.json("trigger", "get", name, header=f"ok: got trigger {name}")
    assert {"key": "note", "value": "x"} in updated["annotations"]
    assert row("guest", name) in guest.ok("trigger", "list")
    fired = guest.ok("trigger", "fire", name, "-p", "b", "2")
    assert len(fired) == 1
    assert re.fullmatch(rf"ok: triggered /guest/{name} with id [0-9a-f]*", fired[0])
    assert_fails(
        guest("trigger", "create", name),
        EXIT_CONFLICT,
        f"Unable to create trigger '{name}': resource already exists",
    )
    assert guest.ok("trigger", "delete", name) == [f"ok: deleted trigger {name}"]
    assert_fails(
        guest("trigger", "get", name),
        EXIT_NOT_FOUND,
        f"Unable to get trigger '{name}': The requested resource does not exist.",
    )


def test_rule_commands(guest: Wsk, tmp_path: Path) -> None:
    action, trigger, rule = fresh("ra"), fresh("rt"), fresh("rr")
    guest.ok("action", "create", action, write_file(tmp_path, "h.js", HELLO_JS))
    guest.ok("trigger", "create", trigger)
    assert guest.ok("rule", "create", rule, trigger, action) == [f"ok: created rule {rule}"]
    got = guest.json("rule", "get", rule, header=f"ok: got rule {rule}")
    assert got["status"] == "active"
    assert got["trigger"] == {"path": "guest", "name": trigger}
    assert got["action"] == {"path": "guest", "name": action}
    assert guest.ok("rule", "disable", rule) == [f"ok: disabled rule {rule}"]
    assert guest.ok("rule", "status", rule) == [f"ok: rule {rule} is inactive"]
    assert row("guest", rule, f"{'private':<20} inactive") in guest.ok("rule", "list")
    assert guest.ok("rule", "enable", rule) == [f"ok: enabled rule {rule}"]
    assert guest.ok("rule", "status", rule) == [f"ok: rule {rule} is active"]
    assert row("guest", rule, f"{'private':<20} active") in guest.ok("rule", "list")
    assert guest.ok("rule", "get", rule, "--summary") == [
        f"rule /guest/{rule}",
        "   (parameters: none defined)",
    ]
    assert guest.ok("rule", "delete", rule, "--disable") == [f"ok: deleted rule {rule}"]
    assert_fails(
        guest("rule", "get", rule),
        EXIT_NOT_FOUND,
        f"Unable to get rule '{rule}': The requested resource does not exist.",
    )
    guest.ok("trigger", "delete", trigger)
    guest.ok("action", "delete", action)


def test_package_commands(guest: Wsk) -> None:
    package, binding = fresh("pkg"), fresh("bnd")
    assert guest.ok("package", "create", package, "-p", "a", "b") == [
        f"ok: created package {package}"
    ]
    assert guest.ok("package", "get", package, "--summary") == [
        f"package /guest/{package}",
        "   (parameters: a)",
    ]
    assert guest.ok("package", "update", package, "-a", "description", "tools") == [
        f"ok: updated package {package}"
    ]
    assert guest.ok("package", "get", package, "--summary")[0] == (
        f"package /guest/{package}: tools"
    )
    assert guest.ok("package", "bind", package, binding) == [f"ok: created binding {binding}"]
    got = guest.json("package", "get", binding, header=f"ok: got package {binding}")
    assert got["binding"] == {"namespace": "guest", "name": package}
    listed = guest.ok("package", "list")
    assert row("guest", package) in listed
    assert row("guest", binding) in listed
    assert guest.ok("package", "delete", binding) == [f"ok: deleted package {binding}"]
    assert guest.ok("package", "delete", package) == [f"ok: deleted package {package}"]
    assert_fails(
        guest("package", "get", package),
        EXIT_NOT_FOUND,
        f"Unable to get package '{package}': The requested resource does not exist.",
    )
