"""The catalog role in the platform scenario, seen from the box: the catalog copied to the
host, and /whisk.system/utils published, listed and runnable by the guest."""

from __future__ import annotations

from conftest import request
from testinfra.host import Host


def test_catalog_is_copied(host: Host) -> None:
    manifest = host.file("/var/lib/whisk/catalog/utils/manifest.json")
    assert manifest.is_file
    assert manifest.mode == 0o644


def test_utils_package_is_public(host: Host, controller: str, guest: tuple[str, str]) -> None:
    utils = f"{controller}/api/v1/namespaces/whisk.system/packages/utils"
    answer = request(host, utils, auth=guest)
    assert answer["status"] == 200, answer["content"]
    assert answer["json"]["publish"] is True
    assert "echo" in {action["name"] for action in answer["json"]["actions"]}


def test_echo_runs_for_the_guest(host: Host, controller: str, guest: tuple[str, str]) -> None:
    echo = f"{controller}/api/v1/namespaces/whisk.system/actions/utils/echo"
    invoke = f"{echo}?blocking=true&result=true"
    ran = request(host, invoke, method="POST", body={"said": "hi"}, auth=guest, timeout=90)
    assert ran["status"] == 200, ran["content"]
    assert ran["json"] == {"said": "hi"}
