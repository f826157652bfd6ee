"""The version the controller reports (``GET /api/v1``'s ``buildno``, the OpenAPI document's
``info.version``) is the installed package's, from its metadata: an image built from the
wheel of version V says V."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import whisk_services
from whisk_services import UNKNOWN_VERSION, installed_version

# The folder of support.py, which the child imports as ``support`` (the tests package is not
# on its path, and adding the source tree would put its build metadata first).
SUPPORT_DIR = Path(__file__).parent

# Serves the real app over in-memory stores and prints what it reports; argv[1]: SUPPORT_DIR.
REPORT = """
import asyncio, json, sys
from aiohttp.test_utils import TestClient, TestServer
from whisk_services.controller.app import build_app

sys.path.insert(0, sys.argv[1])
from support import InMemory


async def main():
    services = (await InMemory.open()).services()
    async with TestClient(TestServer(build_app(services))) as client:
        info = await (await client.get("/api/v1")).json()
        docs = await (await client.get("/api/v1/api-docs")).json()
    print(json.dumps({"buildno": info["buildno"], "openapi": docs["info"]["version"]}))


asyncio.run(main())
"""


def reported(cwd: Path, pythonpath: Path | None = None) -> dict[str, str]:
    """What the app reports, run in ``cwd`` (not the source tree, whose build metadata would
    be found first) with ``pythonpath`` ahead of the installed packages."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", REPORT, str(SUPPORT_DIR)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_the_api_reports_the_installed_package_version(tmp_path: Path) -> None:
    installed = version("whisk-services")
    assert whisk_services.__version__ == installed
    assert reported(tmp_path) == {"buildno": installed, "openapi": installed}


def test_the_version_comes_from_the_metadata_not_from_the_source(tmp_path: Path) -> None:
    # What a wheel of version 7.7.7 installs, found ahead of the installed package's.
    info = tmp_path / "site" / "whisk_services-7.7.7.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: whisk-services\nVersion: 7.7.7\n", encoding="utf-8"
    )
    assert reported(tmp_path, tmp_path / "site") == {"buildno": "7.7.7", "openapi": "7.7.7"}


def test_a_package_that_is_not_installed_reports_an_unknown_version() -> None:
    assert installed_version("whisk-services-that-was-never-installed") == UNKNOWN_VERSION
    assert UNKNOWN_VERSION == "0+unknown"
