"""`wsk` commands against the stub API: requests sent and lines printed."""

from __future__ import annotations

import base64
import json
import stat
import zipfile
from pathlib import Path

import pytest

from tests.unit.cli.conftest import Stub
from whisk_services.cli.wsk import activations
from whisk_services.cli.wsk.config import Config, load_config, normalize_apihost
from whisk_services.cli.wsk.main import main

NS = "/api/v1/namespaces/_"
AID = "0123456789abcdef0123456789abcdef"


# --- configuration -------------------------------------------------------------------------


def test_flags_override_the_properties_file(
    stub: Stub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    props = tmp_path / "wskprops"
    props.write_text("APIHOST=https://nowhere.invalid\nAUTH=file:key\nAPIVERSION=v1\n")
    stub.on("DELETE", f"{NS}/actions/a", 200, {})
    code = main(["--apihost", stub.url, "-u", "flag:key", "action", "delete", "a"])
    assert code == 0
    assert capsys.readouterr().out == "ok: deleted action a\n"
    assert stub.last.headers["authorization"] == "Basic " + base64.b64encode(b"flag:key").decode()


def test_global_flags_after_the_subcommand(stub: Stub, tmp_path: Path) -> None:
    (tmp_path / "wskprops").write_text("AUTH=file:key\n")
    stub.on("DELETE", f"{NS}/triggers/t", 200, {})
    assert main(["trigger", "delete", "t", "--apihost", stub.url, "-i"]) == 0


def test_apihost_without_scheme_is_https(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    props = tmp_path / "props"
    props.write_text("APIHOST=172.17.0.1\nAUTH=a:b\nNAMESPACE=guest\n")
    monkeypatch.setenv("WSK_CONFIG_FILE", str(props))
    config = load_config()
    assert config.base_url == "https://172.17.0.1/api/v1"
    assert config.namespace == "guest"
    assert normalize_apihost("http://localhost:3233/") == "http://localhost:3233"
    assert load_config(apihost="h:8443", apiversion="v2").base_url == "https://h:8443/api/v2"
    assert Config(apihost=None, auth=None, namespace="_", apiversion="v1").base_url is None


def test_missing_apihost_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WSK_CONFIG_FILE", str(tmp_path / "absent"))
    assert main(["action", "list"]) == 1
    assert capsys.readouterr().err.startswith("error: The API host is not valid")


def test_property_set_get_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    props = tmp_path / "wskprops"
    monkeypatch.setenv("WSK_CONFIG_FILE", str(props))
    assert main(["property", "set", "--apihost", "172.17.0.1", "--auth", "u:k"]) == 0
    assert capsys.readouterr().out == (
        "ok: whisk auth set. Run 'wsk property get --auth' to see the new value.\n"
        "ok: whisk API host set to 172.17.0.1\n"
    )
    assert stat.S_IMODE(props.stat().st_mode) == 0o600
    assert props.read_text() == "AUTH=u:k\nAPIHOST=172.17.0.1\n"
    assert main(["property", "get", "--apihost"]) == 0
    assert capsys.readouterr().out == "whisk API host\t\t172.17.0.1\n"
    assert main(["property", "get", "--auth", "-o", "raw"]) == 0
    assert capsys.readouterr().out == "u:k\n"
    assert main(["property", "unset", "--auth"]) == 0
    assert capsys.readouterr().out == "ok: whisk auth unset.\n"
    assert props.read_text() == "APIHOST=172.17.0.1\n"


# --- actions -------------------------------------------------------------------------------


def test_kind_from_extension_and_flags(stub: Stub, tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("def main(args):\n    return args\n")
    stub.on("PUT", f"{NS}/actions/pkg/hello", 200, {})
    code = main([
        "action", "update", "pkg/hello", "hello.py", "--main", "run", "-t", "3000", "-m", "128",
        "-l", "5", "--concurrency", "2", "--web", "true", "-a", "description", "says hi",
    ])  # fmt: skip
    assert code == 0
    assert stub.last.query == {"overwrite": "true"}
    assert stub.last.body == {
        "exec": {"kind": "python:default", "code": "def main(args):\n    return args\n",
                 "main": "run"},
        "annotations": [
            {"key": "description", "value": "says hi"},
            {"key": "web-export", "value": True},
            {"key": "raw-http", "value": False},
            {"key": "final", "value": True},
        ],
        "limits": {"timeout": 3000, "memory": 128, "logs": 5, "concurrency": 2},
    }  # fmt: skip


def test_explicit_kind_wins(stub: Stub, tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("x")
    stub.on("PUT", f"{NS}/actions/a", 200, {})
    assert main(["action", "create", "a", "a.js", "--kind", "nodejs:20"]) == 0
    assert stub.last.body["exec"]["kind"] == "nodejs:20"


def test_zip_needs_a_kind_and_goes_base64(
    stub: Stub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "act.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("__main__.py", "def main(a): return a\n")
    assert main(["action", "create", "z", "act.zip"]) == 1
    assert capsys.readouterr().err == (
        "error: Unable to create action 'z': creating an action from a .zip artifact requires"
        " specifying the action kind explicitly\n"
    )
    assert stub.requests == []
    stub.on("PUT", f"{NS}/actions/z", 200, {})
    assert main(["action", "create", "z", "act.zip", "--kind", "python:3.11"]) == 0
    sent = stub.last.body["exec"]
    assert sent["kind"] == "python:3.11"
    assert base64.b64decode(sent["code"]) == archive.read_bytes()


def test_parameters_parse_json_values(stub: Stub, tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("x")
    (tmp_path / "params.json").write_text(json.dumps({"fromFile": [1, 2], "n": "file"}))
    stub.on("PUT", f"{NS}/actions/a", 200, {})
    code = main([
        "action", "create", "a", "a.js", "-P", "params.json", "-p", "n", "1", "-p", "obj",
        '{"x": true}', "-p", "s", "hello world", "-p", "q", '"quoted"',
    ])  # fmt: skip
    assert code == 0
    assert stub.last.body["parameters"] == [
        {"key": "fromFile", "value": [1, 2]},
        {"key": "n", "value": 1},
        {"key": "obj", "value": {"x": True}},
        {"key": "s", "value": "hello world"},
        {"key": "q", "value": "quoted"},
    ]


def test_sequence_and_docker(stub: Stub) -> None:
    stub.on("PUT", f"{NS}/actions/seq", 200, {})
    assert main(["action", "create", "seq", "--sequence", "a,/other/b,pkg/c"]) == 0
    assert stub.last.body == {
        "exec": {"kind": "sequence", "components": ["/_/a", "/other/b", "/_/pkg/c"]}
    }
    stub.on("PUT", f"{NS}/actions/bb", 200, {})
    assert main(["action", "create", "bb", "--docker", "me/img:1"]) == 0
    assert stub.last.body == {"exec": {"kind": "blackbox", "image": "me/img:1"}}


def test_get_action_prints_pretty_json(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    action = {"namespace": "guest", "name": "a", "exec": {"kind": "nodejs:20"}, "limits": {}}
    stub.on("GET", f"{NS}/actions/a", 200, action)
    assert main(["action", "get", "a"]) == 0
    assert capsys.readouterr().out == "ok: got action a\n" + json.dumps(action, indent=4) + "\n"
    assert main(["action", "get", "a", "exec"]) == 0
    assert capsys.readouterr().out == (
        'ok: got action a, displaying field exec\n{\n    "kind": "nodejs:20"\n}\n'
    )


def test_server_error_goes_to_stderr_with_exit_code(
    stub: Stub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.js").write_text("x")
    body = {"error": "The request content was malformed:\nbad kind", "code": "abc"}
    stub.on("PUT", f"{NS}/actions/x", 400, body)
    assert main(["action", "create", "x", "x.js"]) == 400 - 256
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: Unable to create action 'x': The request content was malformed:\nbad kind"
        " (code abc)\n"
    )
    assert main(["action", "get", "missing"]) == 148
    assert capsys.readouterr().err == (
        "error: Unable to get action 'missing': The requested resource does not exist."
        " (code notfound1)\n"
    )


def test_blocking_invoke_prints_activation(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    activation = {
        "namespace": "guest",
        "name": "a",
        "activationId": AID,
        "response": {"status": "success", "success": True, "result": {"b": 2, "a": 1}},
    }
    stub.on("POST", f"{NS}/actions/a", 200, activation)
    assert main(["action", "invoke", "a", "-b", "-p", "k", "v"]) == 0
    assert stub.last.query == {"blocking": "true"}
    assert stub.last.body == {"k": "v"}
    out = capsys.readouterr().out
    assert out.startswith(f"ok: invoked /guest/a with id {AID}\n{{\n")
    assert json.loads(out.split("\n", 1)[1]) == activation

    stub.on("POST", f"{NS}/actions/a", 200, {"b": 2, "a": 1})
    assert main(["action", "invoke", "a", "-r"]) == 0
    assert stub.last.query == {"blocking": "true", "result": "true"}
    assert capsys.readouterr().out == '{\n    "a": 1,\n    "b": 2\n}\n'


def test_blocking_invoke_application_error(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    failed = {
        "namespace": "guest",
        "name": "a",
        "activationId": AID,
        "response": {"status": "application error", "success": False, "result": {"error": "x"}},
    }
    stub.on("POST", f"{NS}/actions/a", 502, failed)
    assert main(["action", "invoke", "a", "--blocking"]) == 502 - 256
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"ok: invoked /guest/a with id {AID}\n")
    stub.on("POST", f"{NS}/actions/a", 502, {"error": "x"})
    assert main(["action", "invoke", "a", "-r"]) == 502 - 256
    assert capsys.readouterr().err == '{\n    "error": "x"\n}\n'


def test_blocking_invoke_timeout(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.on("GET", "/api/v1/namespaces", 200, ["guest"])
    stub.on("POST", f"{NS}/actions/slow", 202, {"activationId": AID})
    assert main(["action", "invoke", "slow", "-b"]) == 202
    assert capsys.readouterr().out == (
        f"ok: invoked /guest/slow, but the request has not yet finished, with id {AID}\n"
    )


def test_lists_use_wsk_columns(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.on("GET", f"{NS}/actions", 200, [
        {"namespace": "guest", "name": "hello",
         "annotations": [{"key": "exec", "value": "nodejs:18"}]},
    ])  # fmt: skip
    assert main(["action", "list", "--limit", "5"]) == 0
    assert stub.last.query == {"limit": "5"}
    assert (
        capsys.readouterr().out == "actions\n" + "/guest/hello".ljust(70) + " private nodejs:18\n"
    )

    stub.on("GET", f"{NS}/rules", 200, [{"namespace": "guest", "name": "r", "status": "active"}])
    assert main(["rule", "list"]) == 0
    assert capsys.readouterr().out == (
        "rules\n" + "/guest/r".ljust(70) + " " + "private".ljust(20) + " active\n"
    )
    stub.on("GET", f"{NS}/packages", 200, [{"namespace": "guest", "name": "p", "publish": True}])
    assert main(["package", "list"]) == 0
    assert capsys.readouterr().out == "packages\n" + "/guest/p".ljust(70) + " shared\n"
    stub.on("GET", f"{NS}/triggers", 200, [])
    assert main(["trigger", "list"]) == 0
    assert capsys.readouterr().out == "triggers\n"
    stub.on("GET", f"{NS}/actions/pkg/", 200, [])
    assert main(["action", "list", "pkg"]) == 0
    assert stub.last.path == f"{NS}/actions/pkg/"


def test_namespace_list_and_list_everything(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.on("GET", "/api/v1/namespaces", 200, ["guest"])
    assert main(["namespace", "list"]) == 0
    assert capsys.readouterr().out == "namespaces\nguest\n"
    for collection in ("packages", "actions", "triggers"):
        stub.on("GET", f"{NS}/{collection}", 200, [])
    stub.on("GET", f"{NS}/rules", 200, [{"namespace": "guest", "name": "r"}])
    stub.on("GET", f"{NS}/rules/r", 200, {"namespace": "guest", "name": "r", "status": "inactive"})
    assert main(["list"]) == 0
    assert capsys.readouterr().out == (
        "Entities in namespace: guest\npackages\nactions\ntriggers\nrules\n"
        + "/guest/r".ljust(70) + " " + "private".ljust(20) + " inactive\n"
    )  # fmt: skip


# --- triggers, rules, packages ------------------------------------------------------------


def test_rule_state_commands(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.on("POST", f"{NS}/rules/r", 200, {})
    stub.on("GET", f"{NS}/rules/r", 200, {"name": "r", "status": "active"})
    stub.on("DELETE", f"{NS}/rules/r", 200, {})
    assert main(["rule", "disable", "r"]) == 0
    assert stub.last.body == {"status": "inactive"}
    assert main(["rule", "enable", "r"]) == 0
    assert stub.last.body == {"status": "active"}
    assert main(["rule", "status", "r"]) == 0
    assert main(["rule", "delete", "r", "--disable"]) == 0
    assert [r.method for r in stub.requests][-2:] == ["POST", "DELETE"]
    assert capsys.readouterr().out == (
        "ok: disabled rule r\nok: enabled rule r\nok: rule r is active\nok: deleted rule r\n"
    )


def test_trigger_fire_with_params_and_no_rules(
    stub: Stub, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.on("GET", "/api/v1/namespaces", 200, ["guest"])
    stub.on("POST", f"{NS}/triggers/t", 204, None)
    assert main(["trigger", "fire", "t", "-p", "n", "3"]) == 0
    assert stub.last.body == {"n": 3} or stub.requests[0].body == {"n": 3}
    assert capsys.readouterr().out == "ok: triggered /guest/t with id \n"


def test_package_create_shared_and_bind(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.on("PUT", f"{NS}/packages/p", 200, {})
    stub.on("PUT", f"{NS}/packages/mine", 200, {})
    assert main(["package", "create", "p", "--shared", "yes", "-p", "k", "v"]) == 0
    assert stub.last.body == {
        "parameters": [{"key": "k", "value": "v"}],
        "annotations": [],
        "publish": True,
    }
    assert main(["package", "bind", "/whisk.system/utils", "mine"]) == 0
    assert stub.last.body["binding"] == {"namespace": "whisk.system", "name": "utils"}
    assert capsys.readouterr().out == "ok: created package p\nok: created binding mine\n"


# --- activations ---------------------------------------------------------------------------


def test_activation_logs_result_and_last(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["2024-01-01T00:00:00.000Z stdout: hi there", "2024-01-01T00:00:00.001Z stderr: oops"]
    stub.on("GET", f"{NS}/activations/{AID}/logs", 200, {"logs": lines})
    stub.on("GET", f"{NS}/activations/{AID}/result", 200,
            {"result": {"msg": "x"}, "success": True, "status": "success"})  # fmt: skip
    stub.on("GET", f"{NS}/activations", 200, [{"activationId": AID, "name": "a"}])
    assert main(["activation", "logs", AID]) == 0
    assert capsys.readouterr().out == "\n".join(lines) + "\n"
    assert main(["activation", "logs", "--last", "--strip"]) == 0
    assert capsys.readouterr().out == "hi there\noops\n"
    assert main(["activation", "result", AID]) == 0
    assert capsys.readouterr().out == '{\n    "msg": "x"\n}\n'


def test_activation_list_columns(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    row = {
        "namespace": "guest", "name": "hello", "version": "0.0.1", "activationId": AID,
        "start": 1700000000000, "end": 1700000000123, "duration": 123, "statusCode": 0,
        "annotations": [{"key": "kind", "value": "nodejs:20"}, {"key": "initTime", "value": 5}],
    }  # fmt: skip
    stub.on("GET", f"{NS}/activations", 200, [row])
    assert main(["activation", "list", "hello", "--limit", "2", "--since", "5"]) == 0
    assert stub.last.query == {"name": "hello", "limit": "2", "since": "5"}
    header, line, end = capsys.readouterr().out.split("\n")
    assert header == (
        "Datetime            Activation ID                    Kind      Start Duration   Status "
        " Entity"
    )
    assert line[20:] == f"{AID} nodejs:20 cold  123ms      success guest/hello:0.0.1"
    assert end == ""


def test_activation_poll_stops_after_exit(
    stub: Stub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activations, "POLL_INTERVAL_SECONDS", 0.05)
    stub.on("GET", f"{NS}/activations", 200, [
        {"activationId": AID, "name": "hello", "start": 10, "logs": ["l1"]},
    ])  # fmt: skip
    assert main(["activation", "poll", "--exit", "1"]) == 0
    out = capsys.readouterr().out
    assert out == f"Polling for activation logs\n\nActivation: 'hello' ({AID})\n[\n    \"l1\"\n]\n"
    assert all(r.query.get("docs") == "true" for r in stub.requests[1:])


# --- unsupported ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["api", "sdk", "project", "bogus"])
def test_unsupported_groups(group: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-i", group, "list"]) != 0
    assert capsys.readouterr().err == f'error: "{group}" is not supported yet\n'


def test_positionals_after_flags(stub: Stub, tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("x")
    stub.on("PUT", f"{NS}/actions/a", 200, {})
    assert main(["action", "create", "a", "-p", "k", "v", "a.js"]) == 0
    assert stub.last.body["exec"] == {"kind": "nodejs:default", "code": "x"}
