"""The system catalog on the real platform: `wskadmin catalog install` writes `/whisk.system/utils`
into the platform's databases, and the guest runs every utility through the API."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tests.integration.platform_support import Platform
from whisk_services.model.identity import AuthKey

pytestmark = pytest.mark.integration

DB_PREFIX = "catalog_"
NETWORK = ("whisk-test-catalog", "172.31.243.0/24", "whisktcat0")
INSTANCE = 9  # controller and invoker number, used by no other module on the session broker
API_HOST = "https://whisk.example.test"
INVOKER_ENV = {"WHISK_INVOKER_API_HOST": API_HOST}
UTILS = ("cat", "date", "echo", "head", "hosturl", "namespace", "smash", "sort", "split")


@pytest.fixture(scope="module")
def first_install(platform: Platform) -> list[str]:
    """The lines the first `wskadmin catalog install` printed."""
    result = platform.controller.wskadmin("catalog", "install")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_first_install_creates_the_subject_package_and_actions(
    first_install: list[str],
) -> None:
    assert first_install[0].startswith("created subject whisk.system (namespace whisk.system)")
    AuthKey.parse(first_install[1])
    assert first_install[2:-1] == [
        "created package /whisk.system/utils",
        *(f"created action /whisk.system/utils/{name}" for name in UTILS),
    ]
    assert first_install[-1].startswith("ok: installed the catalog in /whisk.system: 10 created")


def invoke(platform: Platform, name: str, params: dict[str, Any]) -> Any:
    response = platform.guest.call(
        "POST",
        f"/namespaces/whisk.system/actions/utils/{name}",
        params={"blocking": "true", "result": "true"},
        json=params,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("name", "params", "result"),
    [
        ("echo", {"a": 1, "b": [2, "x"]}, {"a": 1, "b": [2, "x"]}),
        ("cat", {"lines": [4, 2, 3]}, {"lines": [4, 2, 3], "payload": "4\n2\n3"}),
        (
            "sort",
            {"lines": ["pear", "apple", "fig"]},
            {"lines": ["apple", "fig", "pear"], "length": 3},
        ),
        ("head", {"lines": [4, 2, 3], "num": 2}, {"lines": [4, 2], "num": 2}),
        ("head", {"lines": [4, 2, 3]}, {"lines": [4], "num": 1}),
        (
            "split",
            {"payload": "one,two,three", "separator": ","},
            {"lines": ["one", "two", "three"], "payload": "one,two,three"},
        ),
        ("split", {"payload": "a\nb"}, {"lines": ["a", "b"], "payload": "a\nb"}),
        ("smash", {"a": 1, "b": {"c": 2}, "$fieldName": "p"}, {"p": {"a": 1, "b": {"c": 2}}}),
        ("namespace", {}, {"namespace": "guest"}),
        (
            "hosturl",
            {"path": "utils/echo"},
            {"url": f"{API_HOST}/api/v1/namespaces/guest/actions/utils/echo"},
        ),
        (
            "hosturl",
            {"path": "hello", "web": True},
            {"url": f"{API_HOST}/api/v1/web/guest/default/hello.json"},
        ),
    ],
)
def test_the_guest_invokes_each_utility(
    platform: Platform,
    first_install: list[str],
    name: str,
    params: dict[str, Any],
    result: Any,
) -> None:
    assert invoke(platform, name, params) == result


def test_date_is_now_in_iso_form(platform: Platform, first_install: list[str]) -> None:
    before = datetime.datetime.now(datetime.UTC)
    result = invoke(platform, "date", {})
    assert set(result) == {"date"}
    assert result["date"].endswith("Z")
    date = datetime.datetime.fromisoformat(result["date"])
    assert abs((date - before).total_seconds()) < 60


def test_the_package_is_public_to_the_guest(platform: Platform, first_install: list[str]) -> None:
    for query in ({}, {"public": "true"}):
        listed = platform.guest.call("GET", "/namespaces/whisk.system/packages", params=query)
        assert listed.status_code == 200, listed.text
        assert [(p["name"], p["publish"]) for p in listed.json()] == [("utils", True)]
    package = platform.guest.call("GET", "/namespaces/whisk.system/packages/utils")
    assert package.status_code == 200, package.text
    body = package.json()
    assert body["publish"] is True
    assert body["binding"] == {}
    assert sorted(a["name"] for a in body["actions"]) == list(UTILS)
    annotations = {a["key"]: a["value"] for a in body["annotations"]}
    assert annotations["description"]
    action = platform.guest.call("GET", "/namespaces/whisk.system/actions/utils/head").json()
    described = {a["key"]: a["value"] for a in action["annotations"]}
    assert [p["name"] for p in described["parameters"]] == ["lines", "num"]
    assert described["exec"] == "nodejs:18"


def test_a_second_install_is_up_to_date(platform: Platform, first_install: list[str]) -> None:
    before = platform.guest.call("GET", "/namespaces/whisk.system/actions/utils/echo").json()
    result = platform.controller.wskadmin("catalog", "install")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: catalog up to date (10 entities in /whisk.system)\n"
    after = platform.guest.call("GET", "/namespaces/whisk.system/actions/utils/echo").json()
    assert (after["version"], after["updated"]) == (before["version"], before["updated"])
