"""Shared pytest set-up: where test servers keep their logs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def test_logs() -> Path:
    """A directory for this run's server data and logs, kept after the run for reading."""
    base = Path(os.environ.get("WHISK_TEST_LOGS", REPO_ROOT / "test-logs"))
    run = base / time.strftime("run-%Y%m%d-%H%M%S") / str(os.getpid())
    run.mkdir(parents=True, exist_ok=True)
    return run
