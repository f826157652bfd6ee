"""The controllers: each a container of the image tagged with the platform's version, run by
a hardened systemd unit from a private settings file, answering on its cluster address.
"""

from __future__ import annotations

import json
from typing import Any

from conftest import address, instance
from hostchecks import assert_unit_hardened, assert_unit_runs, listeners

testinfra_hosts = ["ansible://controllers"]


def test_unit_runs_hardened(host: Any) -> None:
    unit = f"whisk-controller{instance(host, 'controllers')}.service"
    assert_unit_runs(host, unit)
    assert_unit_hardened(host, unit, user=False)


def test_settings_file_is_private(host: Any) -> None:
    settings = host.file(f"/etc/whisk/controller{instance(host, 'controllers')}.env")
    assert (settings.mode, settings.user, settings.group) == (0o640, "root", "root")
    assert "WHISK_CONTROLLER_COUCHDB_PASSWORD=" in host.check_output(f"cat {settings.path}")


def test_container_runs_the_versioned_image_as_an_unprivileged_user(host: Any) -> None:
    name = f"whisk-controller{instance(host, 'controllers')}"
    inspected = json.loads(host.check_output(f"docker inspect {name}"))[0]
    assert inspected["State"]["Running"]
    assert inspected["Config"]["Image"].startswith("whisk/controller:")
    assert inspected["Config"]["User"] == "whisk"
    assert inspected["HostConfig"]["ReadonlyRootfs"]


def test_listens_on_its_cluster_address_only(host: Any) -> None:
    port = 10001 + instance(host, "controllers")
    assert listeners(host, port) == {address(host.ansible.get_variables())}
