"""The seed's workflow through nginx over HTTPS, from this machine, with the guest's
`.wskprops` that `make cluster-up` wrote: action, trigger, rule, fire, invoke and the
activation's summary (scripts/smoke.py, fresh names, cleaned up after).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, read_props, run_local
from edge_api import EdgeApi


@pytest.fixture
def wskprops(request: pytest.FixtureRequest) -> Path:
    path = Path(str(request.config.getoption("--wskprops")))
    assert path.is_file(), f"{path} is missing: make cluster-up writes it"
    return path


def test_wskprops_is_private_and_names_the_edge_over_https(wskprops: Path) -> None:
    assert wskprops.stat().st_mode & 0o777 == 0o600
    props = read_props(wskprops)
    assert props["APIHOST"].startswith("https://"), props
    assert len(props["AUTH"].split(":")[1]) == 64


def test_the_seed_workflow_passes_through_the_edge(wskprops: Path) -> None:
    smoke = ROOT / "scripts" / "smoke.py"
    done = run_local(sys.executable, str(smoke), "--wskprops", str(wskprops))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "activation result for /guest/helloAction-" in done.stdout
    assert '"msg": "Hello World"' in done.stdout


def test_a_python_action_runs_through_the_edge(edge_api: EdgeApi) -> None:
    action = f"/namespaces/_/actions/infra-hello-{uuid.uuid4().hex[:8]}"
    code = "def main(args):\n    return {'msg': 'hi ' + args.get('name', '')}\n"
    status, created = edge_api.call("PUT", action, {"exec": {"kind": "python:3.11", "code": code}})
    assert status == 200, created
    try:
        status, result = edge_api.call(
            "POST", f"{action}?blocking=true&result=true", {"name": "infra"}
        )
        assert (status, result) == (200, {"msg": "hi infra"})
    finally:
        edge_api.call("DELETE", action)
