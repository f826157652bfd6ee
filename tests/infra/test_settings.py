"""The settings of the platform's daemons (registrator, controller, invoker) on every host that
runs them: each settings file private and read by its unit as its EnvironmentFile, the values
handed into the container by name only, and a value holding quotes, spaces, a dollar, a
backslash, a percent sign and a backquote arriving unchanged in the environment of the
container's process (the inventory's WHISK_PROBE, a setting no daemon reads).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from conftest import instance

testinfra_hosts = ["ansible://all"]

# What inventory/local-cluster and inventory/devbox set as WHISK_PROBE in every daemon's extra
# settings.
PROBE = ' it\'s "quoted" $HOME back\\slash 100% %n `id` # ; '


class Daemon(NamedTuple):
    """One daemon on one host: its unit, its container, its settings file, its variables'
    prefix."""

    unit: str
    container: str
    settings: str
    prefix: str


def daemons(host: Any) -> list[Daemon]:
    """The daemons the inventory puts on this host (the registrator beside every controller and
    invoker), each with its instance number."""
    groups = host.ansible.get_variables()["group_names"]
    found = []
    if "controllers" in groups or "invokers" in groups:
        found.append(
            Daemon(
                "whisk-registrator.service",
                "whisk-registrator",
                "/etc/whisk/registrator.env",
                "WHISK_REGISTRATOR_",
            )
        )
    for group, name, prefix in (
        ("controllers", "controller", "WHISK_CONTROLLER_"),
        ("invokers", "invoker", "WHISK_INVOKER_"),
    ):
        if group in groups:
            daemon = f"{name}{instance(host, group)}"
            found.append(
                Daemon(
                    f"whisk-{daemon}.service", f"whisk-{daemon}", f"/etc/whisk/{daemon}.env", prefix
                )
            )
    return found


def test_settings_are_private(host: Any) -> None:
    for daemon in daemons(host):
        settings = host.file(daemon.settings)
        assert settings.is_file, daemon.settings
        assert (settings.mode, settings.user, settings.group) == (0o640, "root", "root"), daemon


def test_units_read_their_settings(host: Any) -> None:
    for daemon in daemons(host):
        files = host.service(daemon.unit).systemd_properties["EnvironmentFiles"]
        # Not ignore_errors: a missing file fails the start instead of starting without settings.
        assert files == f"{daemon.settings} (ignore_errors=no)", daemon.unit


def test_units_pass_the_settings_by_name(host: Any) -> None:
    for daemon in daemons(host):
        command = host.service(daemon.unit).systemd_properties["ExecStart"]
        assert f"--env {daemon.prefix}WHISK_PROBE " in command, daemon.unit
        assert "quoted" not in command, daemon.unit
        assert "--env-file" not in command, daemon.unit


def test_a_value_arrives_unchanged(host: Any) -> None:
    # The environment of each container's first process, read on the host (JSON keeps every
    # character of the value as it is).
    read = (
        "import json, sys; entries = open(sys.argv[1], 'rb').read().decode().split(chr(0)); "
        "print(json.dumps(dict(e.split('=', 1) for e in entries if e).get(sys.argv[2])))"
    )
    for daemon in daemons(host):
        pid = host.check_output(f"docker inspect --format '{{{{.State.Pid}}}}' {daemon.container}")
        assert int(pid) > 0, daemon.container
        name = f"{daemon.prefix}WHISK_PROBE"
        answer = host.check_output(f'python3 -c "{read}" /proc/{pid}/environ {name}')
        assert json.loads(answer) == PROBE, daemon.container
