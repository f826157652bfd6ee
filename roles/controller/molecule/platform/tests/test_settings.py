"""The settings of the platform's three daemons (registrator, controller, invoker), seen from the
box: each settings file private and read by its unit as its EnvironmentFile, the values handed
into the container by name only, and a value holding quotes, spaces, a dollar, a backslash, a
percent sign and a backquote arriving unchanged in the environment of the container's
process."""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest
from testinfra.host import Host

# What the scenario's inventory sets as MOLECULE_PROBE in every daemon's extra settings.
PROBE = ' it\'s "quoted" $HOME back\\slash 100% %n `id` # ; '


class Daemon(NamedTuple):
    """One daemon: its unit, its container, its settings file and its variables' prefix."""

    unit: str
    container: str
    settings: str
    prefix: str


DAEMONS = [
    Daemon(
        "whisk-registrator.service",
        "whisk-registrator",
        "/etc/whisk/registrator.env",
        "WHISK_REGISTRATOR_",
    ),
    Daemon(
        "whisk-controller0.service",
        "whisk-controller0",
        "/etc/whisk/controller0.env",
        "WHISK_CONTROLLER_",
    ),
    Daemon("whisk-invoker0.service", "whisk-invoker0", "/etc/whisk/invoker0.env", "WHISK_INVOKER_"),
]
each_daemon = pytest.mark.parametrize("daemon", DAEMONS, ids=lambda daemon: daemon.container)


@each_daemon
def test_settings_are_private(host: Host, daemon: Daemon) -> None:
    settings = host.file(daemon.settings)
    assert settings.is_file
    assert (settings.mode, settings.user, settings.group) == (0o640, "root", "root")


@each_daemon
def test_unit_reads_the_settings(host: Host, daemon: Daemon) -> None:
    files = host.service(daemon.unit).systemd_properties["EnvironmentFiles"]
    # Not ignore_errors: a missing file fails the start instead of starting without settings.
    assert files == f"{daemon.settings} (ignore_errors=no)"


@each_daemon
def test_unit_passes_the_settings_by_name(host: Host, daemon: Daemon) -> None:
    command = host.service(daemon.unit).systemd_properties["ExecStart"]
    assert f"--env {daemon.prefix}MOLECULE_PROBE " in command
    assert "quoted" not in command
    assert "--env-file" not in command


@each_daemon
def test_a_value_arrives_unchanged(host: Host, daemon: Daemon) -> None:
    # The environment of the container's first process, read from the box (JSON keeps every
    # character of the value as it is).
    pid = host.check_output(f"docker inspect --format '{{{{.State.Pid}}}}' {daemon.container}")
    assert int(pid) > 0
    read = (
        "import json, sys; entries = open(sys.argv[1], 'rb').read().decode().split(chr(0)); "
        "print(json.dumps(dict(e.split('=', 1) for e in entries if e).get(sys.argv[2])))"
    )
    name = f"{daemon.prefix}MOLECULE_PROBE"
    answer = host.check_output(f'python3 -c "{read}" /proc/{pid}/environ {name}')
    assert json.loads(answer) == PROBE
