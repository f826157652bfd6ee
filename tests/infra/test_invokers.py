"""The invokers: each a container under a hardened unit, registered healthy in Consul, with
its action network in place (an internal bridge whose containers cannot reach the host).
"""

from __future__ import annotations

import json
from typing import Any

from conftest import instance
from hostchecks import assert_unit_hardened, assert_unit_runs, http_get

testinfra_hosts = ["ansible://invokers"]


def test_unit_runs_hardened(host: Any) -> None:
    unit = f"whisk-invoker{instance(host, 'invokers')}.service"
    assert_unit_runs(host, unit)
    assert_unit_hardened(host, unit, user=False)


def test_settings_file_is_private(host: Any) -> None:
    settings = host.file(f"/etc/whisk/invoker{instance(host, 'invokers')}.env")
    assert (settings.mode, settings.user, settings.group) == (0o640, "root", "root")


def test_registered_passing_in_consul(host: Any) -> None:
    fetched = http_get(host, "http://127.0.0.1:8500/v1/health/service/invoker?passing=true", 5)
    passing = {entry["Service"]["ID"] for entry in json.loads(fetched)}
    assert f"invoker{instance(host, 'invokers')}" in passing, passing


def test_runtime_images_are_loaded(host: Any) -> None:
    for image in ("whisk/action-python:3.11", "whisk/action-nodejs:18"):
        assert host.run(f"docker image inspect {image}").rc == 0, image


def test_action_network_is_internal_and_fenced(host: Any) -> None:
    networks = json.loads(host.check_output("docker network inspect whisk-actions"))
    assert networks[0]["Internal"] is True
    bridge = networks[0]["Options"]["com.docker.network.bridge.name"]
    rules = host.check_output("iptables -S INPUT")
    assert f"-i {bridge}" in rules, rules
