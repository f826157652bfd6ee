"""Shared fixtures of the testinfra checks: each module names its hosts by inventory group
(`testinfra_hosts = ["ansible://kafkas"]`), and reads ports and addresses from the inventory
through `host.ansible.get_variables()`, so the checks follow the inventory they are run with.
The checks of one host the molecule tests use too (a unit running hardened, the addresses a
port is listened on) are in tests/hostchecks.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml
from edge_api import EdgeApi

ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--wskprops",
        default=str(ROOT / ".wskprops"),
        help="the guest's .wskprops written by make cluster-up (for the workflow checks)",
    )


@pytest.fixture(scope="session")
def inventory(request: pytest.FixtureRequest) -> str:
    path = request.config.getoption("--ansible-inventory")
    assert path, "run with --ansible-inventory=inventory/<name>"
    return str(path)


@pytest.fixture(scope="session")
def hostvars(inventory: str) -> Callable[[str], dict[str, Any]]:
    """The inventory's variables of a host (vault variables included)."""
    cache: dict[str, dict[str, Any]] = {}

    def variables(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = testinfra.get_host(
                f"ansible://{name}", ansible_inventory=inventory
            ).ansible.get_variables()
        return cache[name]

    return variables


@pytest.fixture(scope="session")
def rendered(inventory: str) -> Callable[[str, str], str]:
    """A variable of a host as Ansible renders it (inventory values may be templates)."""

    def render(name: str, variable: str) -> str:
        done = run_local(
            "ansible",
            name,
            "-i",
            inventory,
            "-o",
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"var={variable}",
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return str(json.loads(done.stdout.split("=>", 1)[1])[variable])

    return render


def read_props(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a .wskprops."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.fixture(scope="session")
def guest(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The guest's uuid and key, from the .wskprops the deployment's script wrote."""
    props = read_props(Path(str(request.config.getoption("--wskprops"))))
    user, _, key = props["AUTH"].partition(":")
    return user, key


@pytest.fixture(scope="session")
def edge_api(request: pytest.FixtureRequest, guest: tuple[str, str]) -> EdgeApi:
    """The REST API through the edge, as the guest (the .wskprops' API host)."""
    props = read_props(Path(str(request.config.getoption("--wskprops"))))
    return EdgeApi(props["APIHOST"].rstrip("/"), guest)


def role_default(role: str, name: str) -> Any:
    """A role's default (roles/ROLE/defaults/main.yml), for what an inventory may leave unset."""
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    return defaults[name]


def address(variables: dict[str, Any]) -> str:
    """A host's cluster address, as the roles choose it."""
    return str(variables["whisk_address"])


def run_local(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def instance(host: Any, group: str) -> int:
    """The host's daemon instance number: its index in the inventory group (as the roles)."""
    variables = host.ansible.get_variables()
    return int(variables["groups"][group].index(variables["inventory_hostname"]))
