"""whisk_testbed: process supervision, port helpers and the artifact lookup."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from whisk_testbed.artifacts import ArtifactMissingError, find_artifact
from whisk_testbed.network import free_port, port_answers, wait_for_port
from whisk_testbed.process import ServerProcess, ServerStartError


def test_free_port_is_bindable_and_unused() -> None:
    port = free_port()
    assert not port_answers(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_server_process_waits_for_readiness_and_stops_the_group(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(
        "http",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        tmp_path / "http.log",
        cwd=tmp_path,
    )
    with server:
        server.start(lambda: port_answers(port), deadline_s=20)
        assert server.running()
    assert not server.running()
    assert not wait_for_port(port, 0.3)
    assert "--- starting" in (tmp_path / "http.log").read_text()


def test_server_that_exits_fails_with_its_log_tail(tmp_path: Path) -> None:
    server = ServerProcess(
        "broken",
        [sys.executable, "-c", "import sys; print('bad config line 3', flush=True); sys.exit(3)"],
        tmp_path / "broken.log",
    )
    with pytest.raises(ServerStartError, match=r"exited with 3[\s\S]*bad config line 3"):
        server.start(lambda: False, deadline_s=20)


def test_server_never_ready_is_stopped_after_the_deadline(tmp_path: Path) -> None:
    server = ServerProcess(
        "sleepy", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log"
    )
    started = time.monotonic()
    with pytest.raises(ServerStartError, match="not ready within"):
        server.start(lambda: False, deadline_s=0.5)
    assert time.monotonic() - started < 15
    assert not server.running()


def test_find_artifact_reads_the_manifest(tmp_path: Path) -> None:
    staged = tmp_path / "kafka" / "3.9.1"
    staged.mkdir(parents=True)
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "components": [
                    {"name": "kafka", "version": "3.9.1", "path": str(staged), "source": "s"}
                ]
            }
        )
    )
    artifact = find_artifact("kafka", tmp_path)
    assert (artifact.version, artifact.path) == ("3.9.1", staged)
    with pytest.raises(ArtifactMissingError, match="consul is not staged"):
        find_artifact("consul", tmp_path)


def test_find_artifact_without_manifest_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ArtifactMissingError, match="make artifacts"):
        find_artifact("kafka", tmp_path)


def test_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from whisk_testbed.process import ServerProcess\n"
        f"s = ServerProcess('sleeper', [sys.executable, '-c', 'import time; time.sleep(60)'],"
        f" Path({str(tmp_path / 'sleeper.log')!r}))\n"
        "s.start(lambda: True, deadline_s=5)\n"
        f"Path({str(pid_file)!r}).write_text(str(s.pid))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", parent], check=True, timeout=30)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its reaper counts as gone.
    return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
