"""Checks of one host, shared by the roles' molecule tests (roles/*/molecule/*/tests, which find
this module through the PYTHONPATH .config/molecule/config.yml gives the verifier) and the
cluster's testinfra checks (tests/infra, through `pythonpath` in its pytest.ini).

Plain functions of a testinfra `host`, no fixtures: a systemd unit running, enabled and
confined as expected (its journal in the message when it is not), the sockets a port is
listened on, a command or an HTTP request made from inside the host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from testinfra.host import Host

CONFINED: Final[Mapping[str, str]] = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
}
"""The systemd settings every unit the roles write has (`systemctl show` names and values)."""

SANDBOXED: Final[Mapping[str, str]] = {
    **CONFINED,
    "ProtectHome": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
}
"""CONFINED and the rest of the sandbox of the daemons that run on the host itself (not in a
container): Consul, ZooKeeper, Kafka, CouchDB."""

# An HTTP GET made with the host's python3 (hosts have no curl): prints the body, fails on an
# HTTP error or no answer within the timeout.
_GET = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))"
    ".read().decode())"
)


def journal(host: Host, unit: str, lines: int = 50) -> str:
    """The unit's last journal lines, for a failing check's message."""
    return str(host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout)


def assert_unit_runs(host: Host, unit: str) -> None:
    """The unit is running and enabled (its journal in the message when it is not running)."""
    service = host.service(unit)
    assert service.is_running, journal(host, unit)
    assert service.is_enabled, f"{unit} is not enabled"


def assert_unit_properties(host: Host, unit: str, expected: Mapping[str, str]) -> None:
    """The unit's systemd properties (`systemctl show`) named in `expected` have its values,
    all compared at once so that a failure lists every one that differs. `systemctl show`
    leaves out a property whose value is empty: an absent one counts as ""."""
    properties = host.service(unit).systemd_properties
    wrong = {
        name: f"{properties.get(name, '')!r}, not {value!r}"
        for name, value in expected.items()
        if properties.get(name, "") != value
    }
    assert not wrong, f"{unit}: {wrong}"


def assert_unit_follows(host: Host, unit: str, dependency: str) -> None:
    """The unit requires `dependency` and starts after it (its Requires and its After)."""
    properties = host.service(unit).systemd_properties
    for name in ("Requires", "After"):
        assert dependency in properties[name].split(), f"{unit}: {name}={properties[name]}"


def assert_unit_hardened(host: Host, unit: str, *, user: bool = True) -> None:
    """The unit restarts on failure and runs with the hardening the roles give every unit,
    whichever way the inventory tunes it (`user`: it also runs as a user other than root)."""
    properties = host.service(unit).systemd_properties
    assert properties["Restart"] in {"on-failure", "always"}, properties["Restart"]
    for name, allowed in (
        ("NoNewPrivileges", {"yes"}),
        ("ProtectSystem", {"full", "strict", "yes"}),
        ("PrivateTmp", {"yes"}),
    ):
        assert properties[name] in allowed, f"{unit}: {name}={properties[name]}"
    if user:
        assert properties["User"] not in {"", "root"}, f"{unit} runs as root"


def listeners(host: Host, port: int) -> set[str]:
    """The addresses a TCP port is listened on (`ss`), e.g. {"172.31.230.11"}."""
    found: set[str] = set()
    for line in host.check_output(f"ss -Htln 'sport = :{port}'").splitlines():
        local = line.split()[3]
        found.add(local.rsplit(":", 1)[0].strip("[]"))
    return found


def listening(host: Host, port: int | str, protocol: str | None = None) -> list[str]:
    """The sockets listening on `port` as testinfra names them (`tcp://ADDRESS:PORT`,
    `udp://…`, `tcp6://…`): those of `protocol` only, or of every protocol."""
    prefix = "" if protocol is None else f"{protocol}://"
    return [
        socket
        for socket in host.socket.get_listening_sockets()
        if socket.startswith(prefix) and socket.endswith(f":{port}")
    ]


def assert_not_on_loopback_or_every_address(host: Host, port: int) -> None:
    """No TCP listener on `port` at 127.0.0.1, nor at 0.0.0.0 (which would answer on both)."""
    for address in ("0.0.0.0", "127.0.0.1"):  # noqa: S104 (the address looked for, not bound)
        assert not host.socket(f"tcp://{address}:{port}").is_listening, f"{address}:{port}"


def default_address(host: Host) -> str:
    """The host's default IPv4 address as Ansible's facts give it: the cluster address the
    roles choose when no whisk_address is set (as in molecule)."""
    facts = host.ansible("setup", "gather_subset=network", check=False)["ansible_facts"]
    return str(facts["ansible_default_ipv4"]["address"])


def command_output(host: Host, command: str, *args: str) -> str:
    """The standard output of `command` run on the host with `args` after it, each quoted as
    one word; the check fails, with the command's standard error, when it exits non-zero."""
    result = host.run(" ".join([command, *["%s"] * len(args)]), *args)
    assert result.rc == 0, result.stderr
    return str(result.stdout)


def http_get(host: Host, url: str, timeout: float = 10) -> str:
    """The body of a GET of `url` made on the host (with its python3); the check fails on an
    HTTP error or when no answer comes within `timeout` seconds."""
    return str(host.check_output("python3 -c %s %s %s", _GET, url, str(timeout)))


def uri(host: Host, url: str, **arguments: Any) -> dict[str, Any]:
    """One HTTP request made on the host by Ansible's uri module, its content returned; the
    module's answer (status, content, json, msg, ...). Arguments that are None are left out."""
    given = {name: value for name, value in arguments.items() if value is not None}
    answer: dict[str, Any] = host.ansible(
        "uri", json.dumps({"url": url, "return_content": True, **given}), check=False
    )
    return answer
