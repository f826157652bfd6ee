"""The controllers: each a container of the image tagged with the platform's version, run by
a hardened systemd unit that follows Docker's, from a private settings file, answering on its
cluster address only: `/ping`, the guest's key accepted and a wrong one refused.
"""

from __future__ import annotations

import json
from typing import Any

from conftest import address, instance
from hostchecks import (
    CONFINED,
    assert_unit_follows,
    assert_unit_hardened,
    assert_unit_properties,
    assert_unit_runs,
    http_get,
    listeners,
    uri,
)

testinfra_hosts = ["ansible://controllers"]


def name(host: Any) -> str:
    """This host's controller, `controller<N>`, after which its unit and files are named."""
    return f"controller{instance(host, 'controllers')}"


def unit(host: Any) -> str:
    return f"whisk-{name(host)}.service"


def port(host: Any) -> int:
    return 10001 + instance(host, "controllers")


def api(host: Any) -> str:
    """The base URL of this host's controller, at its cluster address."""
    return f"http://{address(host.ansible.get_variables())}:{port(host)}"


def test_unit_runs_hardened(host: Any) -> None:
    assert_unit_runs(host, unit(host))
    assert_unit_hardened(host, unit(host), user=False)
    assert_unit_properties(
        host, unit(host), {**CONFINED, "ProtectHome": "tmpfs", "Restart": "on-failure"}
    )


def test_unit_follows_docker(host: Any) -> None:
    assert_unit_follows(host, unit(host), "docker.service")


def test_settings_file_is_private(host: Any) -> None:
    settings = host.file(f"/etc/whisk/{name(host)}.env")
    assert (settings.mode, settings.user, settings.group) == (0o640, "root", "root")
    assert "WHISK_CONTROLLER_COUCHDB_PASSWORD=" in host.check_output(f"cat {settings.path}")


def test_container_runs_the_versioned_image_as_an_unprivileged_user(host: Any) -> None:
    inspected = json.loads(host.check_output(f"docker inspect whisk-{name(host)}"))[0]
    assert inspected["State"]["Running"]
    assert inspected["Config"]["Image"].startswith("whisk/controller:")
    assert inspected["Config"]["User"] == "whisk"
    assert inspected["HostConfig"]["ReadonlyRootfs"]
    assert inspected["HostConfig"]["CapDrop"] == ["ALL"]


def test_listens_on_its_cluster_address_only(host: Any) -> None:
    assert listeners(host, port(host)) == {address(host.ansible.get_variables())}


def test_answers_ping(host: Any) -> None:
    assert http_get(host, f"{api(host)}/ping") == "pong"


def test_accepts_the_guest_and_refuses_a_wrong_key(host: Any, guest: tuple[str, str]) -> None:
    user, key = guest
    namespaces = f"{api(host)}/api/v1/namespaces"
    accepted = uri(host, namespaces, url_username=user, url_password=key, force_basic_auth=True)
    assert accepted.get("status") == 200, accepted.get("msg", accepted)
    assert accepted["json"] == ["guest"]
    refused = uri(
        host,
        namespaces,
        url_username=user,
        url_password="x" * 64,
        force_basic_auth=True,
        status_code=[401],
    )
    assert refused.get("status") == 401, refused.get("msg", refused)
