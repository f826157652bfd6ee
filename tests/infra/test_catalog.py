"""The system catalog: copied to the first controller's host (where `wskadmin catalog install`
ran), and /whisk.system/utils published: listed with its actions and runnable by the guest
through the edge.
"""

from __future__ import annotations

from typing import Any

from conftest import instance
from edge_api import EdgeApi

testinfra_hosts = ["ansible://controllers"]


def test_catalog_is_copied_to_the_first_controller_only(host: Any) -> None:
    manifest = host.file("/var/lib/whisk/catalog/utils/manifest.json")
    first = instance(host, "controllers") == 0
    assert manifest.is_file == first
    if first:
        assert manifest.mode == 0o644


def test_utils_package_is_public_and_lists_echo(edge_api: EdgeApi) -> None:
    status, package = edge_api.call("GET", "/namespaces/whisk.system/packages/utils")
    assert status == 200, package
    assert package["publish"] is True
    assert "echo" in {action["name"] for action in package["actions"]}


def test_echo_runs_for_the_guest(edge_api: EdgeApi) -> None:
    status, result = edge_api.call(
        "POST",
        "/namespaces/whisk.system/actions/utils/echo?blocking=true&result=true",
        {"said": "hi"},
    )
    assert (status, result) == (200, {"said": "hi"})
