"""The seed's workflow through nginx over HTTPS, from this machine, with the guest's
`.wskprops` that `make cluster-up` wrote: action, trigger, rule, fire, invoke and the
activation's summary (scripts/smoke.py, fresh names, cleaned up after).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_local


def read_props(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


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
