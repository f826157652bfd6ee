"""Helpers the platform scenario's tests share: the box's cluster address, the guest's key
from the scenario's inventory, and HTTP requests made on the box by Ansible's uri module."""

from __future__ import annotations

from typing import Any

import pytest
from hostchecks import default_address, uri
from testinfra.host import Host

CONSUL = "http://127.0.0.1:8500"
CONTROLLER_PORT = 10001  # controller 0 (DESIGN.md §5)


@pytest.fixture(scope="module")
def address(host: Host) -> str:
    """The box's cluster address (its default IPv4 address: no whisk_address here)."""
    return default_address(host)


@pytest.fixture(scope="module")
def controller(address: str) -> str:
    """The base URL of controller 0's API."""
    return f"http://{address}:{CONTROLLER_PORT}"


@pytest.fixture(scope="module")
def guest(host: Host) -> tuple[str, str]:
    """The guest's uuid and key, as the scenario's inventory gives them to the roles."""
    auth = str(host.ansible.get_variables()["controller_guest_auth"])
    uuid, _, key = auth.partition(":")
    return uuid, key


def request(
    host: Host,
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    auth: tuple[str, str] | None = None,
    timeout: int = 30,
) -> dict[str, Any]:
    """One HTTP request made on the box, whatever its status; the uri module's answer (status,
    json, content)."""
    args: dict[str, Any] = {}
    if body is not None:
        args.update(body=body, body_format="json")
    if auth is not None:
        args.update(url_username=auth[0], url_password=auth[1], force_basic_auth=True)
    answer = uri(
        host, url, method=method, status_code=list(range(100, 600)), timeout=timeout, **args
    )
    assert "status" in answer, answer.get("msg", answer)
    return answer
