"""`wsk action invoke` and `wsk activation ...` against a platform that runs actions.

The CLI runs as a process with its own properties file, against a controller and an
invoker (platform_support) over the session's Kafka and CouchDB-API servers; its exact
output lines and exit codes are checked, as in test_wsk_cli.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.controller_support import fresh
from tests.integration.platform_support import Platform
from tests.integration.wsk_support import Wsk, wsk_command

pytestmark = pytest.mark.integration

DB_PREFIX = "wskinvoke_"
NETWORK = ("whisk-test-wskinvoke", "172.31.247.0/24", "whisktwsk0")
INSTANCE = 6
HELLO_PY = (
    "def main(args):\n"
    "    print('Hello', args.get('name', 'World'))\n"
    "    return {'msg': 'Hello ' + args.get('name', 'World')}\n"
)
INVOKED = re.compile(r"ok: invoked /guest/(?P<name>\S+) with id (?P<id>[0-9a-f]{32})")
EXIT_BAD_GATEWAY = 502 - 256


@pytest.fixture(scope="module")
def wsk(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Wsk:
    user, key = platform.guest.session.auth  # type: ignore[misc]
    cli = Wsk(tmp_path_factory.mktemp("wsk") / "wskprops", f"{user}:{key}")
    cli.ok("property", "set", "--apihost", platform.controller.url, "--auth", cli.key)
    return cli


def action(wsk: Wsk, tmp_path: Path, code: str = HELLO_PY) -> str:
    name = fresh("hello")
    path = tmp_path / "hello.py"
    path.write_text(code)
    assert wsk.ok("action", "create", name, str(path)) == [f"ok: created action {name}"]
    return name


def record(wsk: Wsk, activation_id: str) -> dict[str, Any]:
    """`wsk activation get ID`, retried while the record is not written yet."""
    give_up = time.monotonic() + 10
    while True:
        result = wsk("activation", "get", activation_id)
        if result.code == 0:
            first, *rest = result.lines
            assert first == f"ok: got activation {activation_id}"
            body: dict[str, Any] = json.loads("\n".join(rest))
            return body
        assert time.monotonic() < give_up, result
        time.sleep(0.2)


def test_blocking_invoke_prints_the_id_then_the_activation(wsk: Wsk, tmp_path: Path) -> None:
    name = action(wsk, tmp_path)
    first, *rest = wsk.ok("action", "invoke", name, "--blocking", "-p", "name", "Ada")
    match = INVOKED.fullmatch(first)
    assert match is not None, first
    assert match["name"] == name
    activation = json.loads("\n".join(rest))
    assert activation["activationId"] == match["id"]
    assert activation["response"]["result"] == {"msg": "Hello Ada"}
    assert activation["response"]["status"] == "success"


def test_result_flag_and_a_parameter_file(wsk: Wsk, tmp_path: Path) -> None:
    name = action(wsk, tmp_path)
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"name": "Grace"}))
    lines = wsk.ok("action", "invoke", name, "-r", "-P", str(params))
    assert json.loads("\n".join(lines)) == {"msg": "Hello Grace"}


def test_a_failing_action_shows_its_activation_on_stderr(wsk: Wsk, tmp_path: Path) -> None:
    name = action(wsk, tmp_path, "def main(args):\n    return {'error': 'no luck'}\n")
    result = wsk("action", "invoke", name, "-b")
    assert result.code == EXIT_BAD_GATEWAY, result
    assert result.out == ""
    first, *rest = result.err.splitlines()
    assert INVOKED.fullmatch(first), first
    assert json.loads("\n".join(rest))["response"]["result"] == {"error": "no luck"}
    only = wsk("action", "invoke", name, "-r")
    assert only.code == EXIT_BAD_GATEWAY
    assert json.loads(only.err) == {"error": "no luck"}


def test_activation_commands_on_a_non_blocking_invoke(wsk: Wsk, tmp_path: Path) -> None:
    name = action(wsk, tmp_path)
    (line,) = wsk.ok("action", "invoke", name, "-p", "name", "Linus")
    match = INVOKED.fullmatch(line)
    assert match is not None, line
    activation_id = match["id"]
    activation = record(wsk, activation_id)
    assert activation["response"]["result"] == {"msg": "Hello Linus"}
    assert json.loads("\n".join(wsk.ok("activation", "result", activation_id))) == {
        "msg": "Hello Linus"
    }
    (log_line,) = wsk.ok("activation", "logs", activation_id)
    assert re.fullmatch(r"\S+Z\s+stdout: Hello Linus", log_line), log_line
    assert wsk.ok("activation", "logs", activation_id, "--strip") == ["Hello Linus"]
    summary = wsk.ok("activation", "get", "--summary", activation_id)
    assert re.fullmatch(
        rf"activation result for /guest/{name} \(success at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d .+\)",
        summary[0],
    ), summary[0]
    assert json.loads("\n".join(summary[1:])) == {"msg": "Hello Linus"}
    header, *rows = wsk.ok("activation", "list", name)
    columns = "Datetime Activation ID Kind Start Duration Status Entity"
    assert header.split() == columns.split()
    (row,) = [r for r in rows if activation_id in r]
    assert row.split()[3:5] == ["python:3.11", "cold"], row
    assert row.split()[-2:] == ["success", f"guest/{name}:0.0.1"], row


def test_activation_poll_shows_new_activations(wsk: Wsk, tmp_path: Path) -> None:
    name = action(wsk, tmp_path)
    poller = subprocess.Popen(
        [*wsk_command(), "activation", "poll", name, "--exit", "8"],
        env=wsk.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)
    (line,) = wsk.ok("action", "invoke", name, "-p", "name", "Poll")
    match = INVOKED.fullmatch(line)
    assert match is not None
    out, err = poller.communicate(timeout=30)
    assert poller.returncode == 0, err
    assert out.startswith("Polling for activation logs\n")
    assert f"Activation: '{name}' ({match['id']})" in out
    assert "Hello Poll" in out
