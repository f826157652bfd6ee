"""scripts/artifacts/manifest.py: component manifests, staleness checks, merge and verify."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

MANIFEST = REPO_ROOT / "scripts" / "artifacts" / "manifest.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MANIFEST), *args], capture_output=True, text=True, check=False
    )


def stage(root: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    directory = root / name / version
    for rel, content in files.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_bytes(content)
    result = run(
        "component", str(directory), "--name", name, "--version", version,
        "--source", f"test {name}", "--inputs", "abc123",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return directory


def test_component_manifest_lists_every_file_with_its_sha256(tmp_path: Path) -> None:
    stage(tmp_path, "kafka", "3.9.1", {"libs/a.jar": b"jar-a", "bin/start": b"#!/bin/sh\n"})
    manifest = json.loads((tmp_path / "kafka" / "3.9.1.json").read_text())
    assert manifest["name"] == "kafka"
    assert manifest["version"] == "3.9.1"
    assert manifest["source"] == "test kafka"
    files = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert files == {
        "bin/start": hashlib.sha256(b"#!/bin/sh\n").hexdigest(),
        "libs/a.jar": hashlib.sha256(b"jar-a").hexdigest(),
    }


def test_check_accepts_the_same_inputs_only(tmp_path: Path) -> None:
    stage(tmp_path, "consul", "1.16.0", {"bin/consul": b"\x7fELF"})
    manifest = str(tmp_path / "consul" / "1.16.0.json")
    assert run("check", manifest, "--inputs", "abc123").returncode == 0
    assert run("check", manifest, "--inputs", "changed").returncode == 1
    assert run("check", str(tmp_path / "missing.json"), "--inputs", "abc123").returncode == 1


def test_merge_requires_every_named_component(tmp_path: Path) -> None:
    stage(tmp_path, "kafka", "3.9.1", {"x": b"1"})
    missing = run("merge", str(tmp_path), "--require", "kafka", "consul")
    assert missing.returncode == 1
    assert "consul" in missing.stderr

    stage(tmp_path, "consul", "1.16.0", {"y": b"2"})
    merged = run("merge", str(tmp_path), "--require", "kafka", "consul")
    assert merged.returncode == 0, merged.stderr
    names = [c["name"] for c in json.loads((tmp_path / "manifest.json").read_text())["components"]]
    assert sorted(names) == ["consul", "kafka"]


def test_verify_detects_a_changed_file(tmp_path: Path) -> None:
    directory = stage(tmp_path, "pouchdb-server", "4.2.0", {"lib/db.js": b"original"})
    assert run("merge", str(tmp_path)).returncode == 0
    assert run("verify", str(tmp_path)).returncode == 0

    (directory / "lib" / "db.js").write_bytes(b"tampered")
    result = run("verify", str(tmp_path))
    assert result.returncode == 1
    assert "lib/db.js differs" in result.stderr
