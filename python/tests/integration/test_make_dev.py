"""`make dev` and `make dev-down` (scripts/dev.py), run twice in a row as a developer would.

The runs use their own state directory, ports and `.wskprops` (the WHISK_DEV_* variables), so a
developer's own `make dev` instance is never touched. `make` is told that the virtualenv is up
to date (`-o .venv/.installed`): this test runs inside that virtualenv, which must not be
reinstalled under it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from whisk_testbed.network import free_port, port_answers

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
NAMES = ("couchdb", "controller")


def make(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "-o", f"{REPO}/.venv/.installed", target],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for its reaper."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2] not in "ZX"


def pids(state: Path) -> dict[str, int]:
    return {name: int((state / f"{name}.pid").read_text()) for name in NAMES}


def ports(state: Path) -> dict[str, int]:
    return {name: json.loads((state / f"{name}.proc").read_text())["port"] for name in NAMES}


def read_props(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_up(state: Path, wskprops: Path, controller_port: int) -> str:
    """The API answers, with the guest's key, on the port asked for; returns that key."""
    props = read_props(wskprops)
    assert props["APIHOST"] == f"http://127.0.0.1:{controller_port}"
    assert props["NAMESPACE"] == "guest"
    info = requests.get(f"{props['APIHOST']}/api/v1", timeout=10).json()
    assert info["api_version"] == "1.0.0"
    user, _, key = props["AUTH"].partition(":")
    listed = requests.get(f"{props['APIHOST']}/api/v1/namespaces", auth=(user, key), timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.json() == ["guest"]
    wsk = subprocess.run(
        [sys.executable, "-m", "whisk_services.cli.wsk.main", "namespace", "list"],
        env={**os.environ, "WSK_CONFIG_FILE": str(wskprops)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (wsk.returncode, wsk.stdout) == (0, "namespaces\nguest\n"), wsk.stderr
    assert mode(wskprops) == 0o600
    assert mode(state) == 0o700
    for path in state.iterdir():
        if path.is_file():
            assert mode(path) == 0o600, path
    return props["AUTH"]


def assert_down(state: Path, started: dict[str, int], listened: dict[str, int]) -> None:
    for name, pid in started.items():
        assert not alive(pid), f"{name} (pid {pid}) still runs"
        assert not (state / f"{name}.pid").exists()
        assert not (state / f"{name}.proc").exists()
    for name, port in listened.items():
        assert not port_answers(port), f"{name}'s port {port} still answers"


def test_make_dev_then_dev_down_twice(tmp_path: Path) -> None:
    state, wskprops = tmp_path / "state", tmp_path / "wskprops"
    controller_port, couchdb_port = free_port(), free_port()
    env = {
        **os.environ,
        "WHISK_DEV_STATE": str(state),
        "WHISK_DEV_WSKPROPS": str(wskprops),
        "WHISK_DEV_CONTROLLER_PORT": str(controller_port),
        "WHISK_DEV_COUCHDB_PORT": str(couchdb_port),
    }
    keys: list[str] = []
    try:
        for _ in range(2):
            up = make("dev", env)
            assert up.returncode == 0, up.stdout + up.stderr
            assert up.stdout.splitlines()[-1] == f"export WSK_CONFIG_FILE={wskprops}"
            started = pids(state)
            assert ports(state) == {"couchdb": couchdb_port, "controller": controller_port}
            assert all(alive(pid) for pid in started.values())
            # `make` has returned: what it started outlived it.
            keys.append(assert_up(state, wskprops, controller_port))

            again = make("dev", env)
            assert again.returncode == 0, again.stdout + again.stderr
            assert "dev: already up" in again.stdout
            assert "started" not in again.stdout
            assert pids(state) == started
            assert_up(state, wskprops, controller_port)

            down = make("dev-down", env)
            assert down.returncode == 0, down.stdout + down.stderr
            for name in ("controller", "couchdb"):
                assert f"dev: stopped {name} (pid {started[name]})" in down.stdout
            assert_down(state, started, {"couchdb": couchdb_port, "controller": controller_port})

            idle = make("dev-down", env)
            assert idle.returncode == 0, idle.stdout + idle.stderr
            assert "dev: nothing is running" in idle.stdout
        # The data and the saved key are kept between runs: the guest keeps its key.
        assert keys[0] == keys[1]
        assert (state / "couchdb").is_dir()
    finally:
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "dev.py"), "down"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )


def test_dev_down_leaves_alone_a_process_that_reuses_a_recorded_pid(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (state / "couchdb.pid").write_text(f"{bystander.pid}\n")
        # What the pidfile's process was: another command, started at another time.
        proc = {"argv": ["pouchdb-server", "-p", "5984"], "start_ticks": 1, "port": 0}
        (state / "couchdb.proc").write_text(json.dumps(proc))
        env = {**os.environ, "WHISK_DEV_STATE": str(state)}
        down = make("dev-down", env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"couchdb: pid {bystander.pid} no longer runs what was started" in down.stdout
        time.sleep(0.2)
        assert bystander.poll() is None
        assert not (state / "couchdb.pid").exists()
        assert not (state / "couchdb.proc").exists()
    finally:
        bystander.kill()
        bystander.wait(timeout=10)
