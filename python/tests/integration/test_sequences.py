"""Sequences run for real: the controller conducts Python and Node.js components through
Kafka, an invoker and Docker, and writes the sequence's own record.

One controller and one invoker (instance 8, a network of this module's own) run against the
session's Kafka broker and CouchDB-API server; the CLI creates and invokes a sequence too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.controller_support import fresh
from tests.integration.platform_support import Platform
from tests.integration.wsk_support import Wsk

pytestmark = pytest.mark.integration

DB_PREFIX = "sequences_"
NETWORK = ("whisk-test-seq", "172.31.245.0/24", "whisktseq0")
INSTANCE = 8  # controller and invoker number, used by no other module on the session broker

SPLIT_PY = "def main(args):\n    return {'words': args.get('text', '').split()}\n"
UPPER_JS = (
    "function main(params) {\n  return { words: params.words.map((w) => w.toUpperCase()) };\n}\n"
)
JOIN_PY = "def main(args):\n    return {'text': args.get('sep', ' ').join(args['words'])}\n"
REFUSE_JS = (
    "function main(params) {\n  return { error: 'refused ' + params.words.length + ' words' };\n}\n"
)
NODEJS = "nodejs:18"


@pytest.fixture(scope="module")
def steps(platform: Platform) -> dict[str, str]:
    """The component actions (fresh names), created once for the module."""
    names = {step: fresh(step) for step in ("split", "upper", "join", "refuse")}
    platform.create(names["split"], SPLIT_PY)
    platform.create(names["upper"], UPPER_JS, kind=NODEJS)
    platform.create(names["join"], JOIN_PY, parameters=[{"key": "sep", "value": "-"}])
    platform.create(names["refuse"], REFUSE_JS, kind=NODEJS)
    return names


def create_sequence(platform: Platform, name: str, *components: str) -> None:
    body = {"exec": {"kind": "sequence", "components": [f"/guest/{c}" for c in components]}}
    response = platform.guest.call("PUT", f"/namespaces/_/actions/{name}", json=body)
    assert response.status_code == 200, response.text


def notes_of(record: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in record["annotations"]}


def test_a_three_step_sequence_chains_its_results(
    platform: Platform, steps: dict[str, str]
) -> None:
    name = fresh("shout")
    create_sequence(platform, name, steps["split"], steps["upper"], steps["join"])
    response = platform.invoke(name, {"text": "hello sequence world"}, blocking="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"]["result"] == {"text": "HELLO-SEQUENCE-WORLD"}
    assert body["response"]["status"] == "success"
    activation_id = body["activationId"]
    assert response.headers["x-openwhisk-activation-id"] == activation_id

    record = platform.record(activation_id)
    assert record["name"] == name
    assert len(record["logs"]) == 3
    notes = notes_of(record)
    assert notes["topmost"] is True
    assert notes["kind"] == "sequence"
    assert notes["path"] == f"guest/{name}"
    assert set(notes["limits"]) >= {"timeout", "memory", "logs"}
    components = [platform.record(component_id) for component_id in record["logs"]]
    assert [c["name"] for c in components] == [steps["split"], steps["upper"], steps["join"]]
    for component in components:
        assert component["cause"] == activation_id
        assert component["response"]["status"] == "success"
    assert components[1]["response"]["result"] == {"words": ["HELLO", "SEQUENCE", "WORLD"]}

    only = platform.invoke(name, {"text": "a b"}, blocking="true", result="true")
    assert (only.status_code, only.json()) == (200, {"text": "A-B"})


def test_an_error_in_the_middle_stops_the_sequence(
    platform: Platform, steps: dict[str, str]
) -> None:
    name = fresh("refused")
    create_sequence(platform, name, steps["split"], steps["refuse"], steps["join"])
    response = platform.invoke(name, {"text": "one two"}, blocking="true")
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["response"]["status"] == "application error"
    assert body["response"]["result"] == {"error": "refused 2 words"}
    record = platform.record(body["activationId"])
    assert len(record["logs"]) == 2  # the join never ran
    last = platform.record(record["logs"][-1])
    assert last["name"] == steps["refuse"]
    assert last["cause"] == body["activationId"]


def test_a_non_blocking_sequence_answers_202_and_its_record_follows(
    platform: Platform, steps: dict[str, str]
) -> None:
    name = fresh("later")
    create_sequence(platform, name, steps["split"], steps["join"])
    response = platform.invoke(name, {"text": "x y z"})
    assert response.status_code == 202, response.text
    record = platform.record(response.json()["activationId"], deadline_s=30)
    assert record["response"]["result"] == {"text": "x-y-z"}


def test_a_missing_component_is_named(platform: Platform, steps: dict[str, str]) -> None:
    name = fresh("gap")
    missing = fresh("missing")
    create_sequence(platform, name, steps["split"], missing)
    response = platform.invoke(name, {"text": "a"}, blocking="true", result="true")
    assert response.status_code == 502, response.text
    assert response.json() == {"error": f"Sequence component '/guest/{missing}' does not exist."}


def test_the_cli_creates_and_invokes_a_sequence(
    platform: Platform, steps: dict[str, str], tmp_path: Path
) -> None:
    user, key = platform.guest.session.auth  # type: ignore[misc]
    wsk = Wsk(tmp_path / "wskprops", f"{user}:{key}")
    wsk.ok("property", "set", "--apihost", platform.controller.url, "--auth", wsk.key)
    name = fresh("clichain")
    components = ",".join((steps["split"], steps["upper"], steps["join"]))
    assert wsk.ok("action", "create", name, "--sequence", components) == [
        f"ok: created action {name}"
    ]
    lines = wsk.ok("action", "invoke", name, "-r", "-p", "text", "from the cli")
    assert json.loads("\n".join(lines)) == {"text": "FROM-THE-CLI"}
