"""Firing triggers for real: controller → Kafka → invoker → Docker, one activation per rule.

A controller and an invoker (platform_support) run over the session's Kafka broker and
CouchDB-API server. The fire's own record lists, one JSON line per rule, the activation each
rule's action got; the tests follow those ids to the actions' records.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.controller_support import fresh
from tests.integration.platform_support import Platform
from tests.integration.wsk_support import Wsk

pytestmark = pytest.mark.integration

DB_PREFIX = "fire_"
NETWORK = ("whisk-test-fire", "172.31.246.0/24", "whisktfire0")
INSTANCE = 7
ECHO_PY = "def main(args):\n    return {'got': args}\n"
HELLO_PY = "def main(args):\n    print('Hello World')\n    return {'msg': 'Hello World'}\n"
TRIGGERED = re.compile(r"ok: triggered /guest/(?P<name>\S+) with id (?P<id>[0-9a-f]{32})")
ACTION_DEADLINE_S = 30.0


def _put(platform: Platform, path: str, body: dict[str, Any]) -> None:
    response = platform.guest.call("PUT", f"/namespaces/_/{path}", json=body)
    assert response.status_code == 200, response.text


def _fire(platform: Platform, trigger: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Fire, expect a 202, and return the fire's record with its log lines parsed."""
    response = platform.guest.call("POST", f"/namespaces/_/triggers/{trigger}", json=payload)
    assert response.status_code == 202, response.text
    activation_id = response.json()["activationId"]
    assert response.headers["x-openwhisk-activation-id"] == activation_id
    record = platform.record(activation_id)
    record["logs"] = [json.loads(line) for line in record["logs"]]
    return record


def _ran(platform: Platform, fired: dict[str, Any]) -> dict[str, Any]:
    """The results of the actions the fire's rules activated, by rule name."""
    results = {}
    for line in fired["logs"]:
        if line["success"]:
            record = platform.record(line["activationId"], deadline_s=ACTION_DEADLINE_S)
            assert record["response"]["status"] == "success", record
            results[line["rule"].split("/")[-1]] = record["response"]["result"]
    return results


def test_a_fire_runs_each_active_rule_with_merged_parameters(platform: Platform) -> None:
    first, second, trigger = fresh("echo"), fresh("echo"), fresh("trigger")
    for name in (first, second):
        parameters = [{"key": "action", "value": name}, {"key": "x", "value": "action"}]
        platform.create(name, ECHO_PY, parameters=parameters)
    parameters = [{"key": "x", "value": "trigger"}, {"key": "y", "value": "trigger"}]
    _put(platform, f"triggers/{trigger}", {"parameters": parameters})
    rule1, rule2 = fresh("rule"), fresh("rule")
    _put(platform, f"rules/{rule1}", {"trigger": f"/_/{trigger}", "action": f"/_/{first}"})
    _put(platform, f"rules/{rule2}", {"trigger": f"/_/{trigger}", "action": f"/_/{second}"})

    fired = _fire(platform, trigger, {"y": "payload", "z": 1})
    assert fired["name"] == trigger
    assert "end" not in fired
    assert fired["response"]["result"] == {"y": "payload", "z": 1}
    assert sorted(line["rule"] for line in fired["logs"]) == sorted(
        [f"guest/{rule1}", f"guest/{rule2}"]
    )
    assert all(line["statusCode"] == 0 for line in fired["logs"]), fired["logs"]
    results = _ran(platform, fired)
    for rule, action in ((rule1, first), (rule2, second)):
        assert results[rule] == {"got": {"action": action, "x": "trigger", "y": "payload", "z": 1}}

    disabled = platform.guest.call(
        "POST", f"/namespaces/_/rules/{rule2}", json={"status": "inactive"}
    )
    assert disabled.status_code == 200, disabled.text
    fired = _fire(platform, trigger, {"z": 2})
    results = _ran(platform, fired)
    assert results == {rule1: {"got": {"action": first, "x": "trigger", "y": "trigger", "z": 2}}}
    skipped = [line for line in fired["logs"] if not line["success"]]
    assert [line["rule"] for line in skipped] == [f"guest/{rule2}"]

    disabled = platform.guest.call(
        "POST", f"/namespaces/_/rules/{rule1}", json={"status": "inactive"}
    )
    assert disabled.status_code == 200, disabled.text
    response = platform.guest.call("POST", f"/namespaces/_/triggers/{trigger}", json={})
    assert response.status_code == 204, response.text


@pytest.fixture(scope="module")
def wsk(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Wsk:
    user, key = platform.guest.session.auth  # type: ignore[misc]
    cli = Wsk(tmp_path_factory.mktemp("wsk") / "wskprops", f"{user}:{key}")
    cli.ok("property", "set", "--apihost", platform.controller.url, "--auth", cli.key)
    return cli


def test_the_seed_workflow_fires_a_trigger(platform: Platform, wsk: Wsk, tmp_path: Path) -> None:
    action, trigger, rule = fresh("helloAction"), fresh("helloTrigger"), fresh("helloRule")
    (tmp_path / "hello.py").write_text(HELLO_PY)
    assert wsk.ok("-i", "action", "create", action, str(tmp_path / "hello.py")) == [
        f"ok: created action {action}"
    ]
    assert wsk.ok("-i", "trigger", "create", trigger) == [f"ok: created trigger {trigger}"]
    assert wsk.ok("-i", "rule", "create", rule, trigger, action) == [f"ok: created rule {rule}"]
    (line,) = wsk.ok("-i", "trigger", "fire", trigger)
    match = TRIGGERED.fullmatch(line)
    assert match is not None, line
    assert match["name"] == trigger
    fired = platform.record(match["id"])
    (log,) = [json.loads(entry) for entry in fired["logs"]]
    assert log["rule"] == f"guest/{rule}"
    assert log["action"] == f"guest/{action}"
    ran = platform.record(log["activationId"], deadline_s=ACTION_DEADLINE_S)
    assert ran["response"]["result"] == {"msg": "Hello World"}
    assert ran["logs"][0].endswith("stdout: Hello World")
