"""The seed's workflow (DESIGN.md §1), line for line, against the stub API."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.cli.conftest import AUTH, Stub
from whisk_services.cli.wsk.main import main

HELLO_JS = """function main() {
    console.log('Hello World');
    return { msg: 'Hello World' };
}
"""
TRIGGER_ID = "350364de139547ba8c95113ef0908911"
ACTIVATION_ID = "8004746e06f147b99c1e8b0be875ec64"
NS = "/api/v1/namespaces/_"


@pytest.fixture
def india(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is IST (+0530), as in the seed's transcript."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_seed_workflow(
    stub: Stub, tmp_path: Path, capsys: pytest.CaptureFixture[str], india: None
) -> None:
    (tmp_path / "hello.js").write_text(HELLO_JS)
    stub.on("GET", "/api/v1/namespaces", 200, ["guest"])
    stub.on("PUT", f"{NS}/actions/helloAction", 200, {"name": "helloAction"})
    stub.on("PUT", f"{NS}/triggers/helloTrigger", 200, {"name": "helloTrigger"})
    stub.on("PUT", f"{NS}/rules/helloRule", 200, {"name": "helloRule", "status": "active"})
    stub.on("POST", f"{NS}/triggers/helloTrigger", 202, {"activationId": TRIGGER_ID})
    stub.on("POST", f"{NS}/actions/helloAction", 202, {"activationId": ACTIVATION_ID})
    stub.on(
        "GET",
        f"{NS}/activations/{ACTIVATION_ID}",
        200,
        {
            "namespace": "guest",
            "name": "helloAction",
            "activationId": ACTIVATION_ID,
            "start": 1486002706000 - 40,
            "end": 1486002706123,
            "response": {"status": "success", "success": True, "result": {"msg": "Hello World"}},
            "logs": ["2017-02-02T02:31:46.083Z stdout: Hello World"],
        },
    )

    assert main(["-i", "action", "create", "helloAction", "hello.js"]) == 0
    put = stub.last
    assert (put.method, put.path, put.query) == (
        "PUT",
        f"{NS}/actions/helloAction",
        {"overwrite": "false"},
    )
    assert put.body == {"exec": {"kind": "nodejs:default", "code": HELLO_JS}}
    token = base64.b64encode(AUTH.encode()).decode()
    assert put.headers["authorization"] == f"Basic {token}"
    assert put.headers["content-type"] == "application/json"

    assert main(["-i", "trigger", "create", "helloTrigger"]) == 0
    assert stub.last.body == {"parameters": [], "annotations": []}
    assert main(["-i", "rule", "create", "helloRule", "helloTrigger", "helloAction"]) == 0
    assert stub.last.body == {"trigger": "/_/helloTrigger", "action": "/_/helloAction"}
    assert main(["-i", "trigger", "fire", "helloTrigger"]) == 0
    assert main(["-i", "action", "invoke", "helloAction"]) == 0
    invoke = next(r for r in reversed(stub.requests) if r.method == "POST")
    assert (invoke.method, invoke.query, invoke.body) == ("POST", {"blocking": "false"}, {})
    assert main(["-i", "activation", "get", "--summary", ACTIVATION_ID]) == 0

    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == (
        "ok: created action helloAction\n"
        "ok: created trigger helloTrigger\n"
        "ok: created rule helloRule\n"
        f"ok: triggered /guest/helloTrigger with id {TRIGGER_ID}\n"
        f"ok: invoked /guest/helloAction with id {ACTIVATION_ID}\n"
        "activation result for /guest/helloAction (success at 2017-02-02 08:01:46 +0530 IST)\n"
        "{\n"
        '    "msg": "Hello World"\n'
        "}\n"
    )


def test_configured_namespace_needs_no_lookup(
    stub: Stub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    props = tmp_path / "wskprops"
    props.write_text(props.read_text() + "NAMESPACE=guest\n")
    stub.on("POST", "/api/v1/namespaces/guest/actions/hello", 202, {"activationId": "a" * 32})
    assert main(["action", "invoke", "hello"]) == 0
    assert capsys.readouterr().out == f"ok: invoked /guest/hello with id {'a' * 32}\n"
    assert [r.path for r in stub.requests] == ["/api/v1/namespaces/guest/actions/hello"]


def test_fully_qualified_package_action(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.on("POST", "/api/v1/namespaces/whisk.system/actions/utils/echo", 202,
            {"activationId": "b" * 32})  # fmt: skip
    assert main(["action", "invoke", "/whisk.system/utils/echo", "-p", "x", "1"]) == 0
    assert stub.last.body == {"x": 1}
    assert capsys.readouterr().out == f"ok: invoked /whisk.system/utils/echo with id {'b' * 32}\n"
