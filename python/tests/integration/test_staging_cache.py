"""A second `make artifacts` and `make images` change nothing and download nothing.

Both scripts run inside a network namespace with no interfaces but loopback (`unshare -n`):
any download would fail there. The artifact manifest and the image ids must be unchanged.
"""

from __future__ import annotations

import os
import re
import subprocess

import docker
import pytest

from tests.conftest import REPO_ROOT
from whisk_testbed.artifacts import artifact_dir

pytestmark = pytest.mark.integration

IMAGES = (
    "whisk/debian:bookworm",
    "whisk/box:bookworm",
    "whisk/runtime-base:bookworm",
    "whisk/action-python:3.11",
    "whisk/action-nodejs:18",
)


def run_offline(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "--net", "--", "bash", str(REPO_ROOT / "scripts" / script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ.copy(),
    )


def test_second_artifact_staging_is_offline_and_changes_nothing() -> None:
    manifest = artifact_dir() / "manifest.json"
    before = (manifest.read_bytes(), manifest.stat().st_mtime_ns)

    result = run_offline("artifacts.sh")

    assert result.returncode == 0, result.stdout + result.stderr
    for component in ("kafka", "consul", "pouchdb-server"):
        assert re.search(rf"^artifacts: {component} \S+ already staged$", result.stdout, re.M)
    assert "staged " not in result.stdout.replace("already staged", "")
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before


def test_second_image_build_is_offline_and_changes_nothing() -> None:
    engine = docker.from_env()
    try:
        before = {tag: engine.images.get(tag).id for tag in IMAGES}
        result = run_offline("images.sh")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("up to date") == len(IMAGES)
        assert {tag: engine.images.get(tag).id for tag in IMAGES} == before
    finally:
        engine.close()
