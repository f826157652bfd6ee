"""Which services a container declares, from its ``docker inspect`` data: pure rules, no I/O.

The rules follow gliderlabs/registrator's documented behaviour (docs/user/services.md and
docs/user/backends.md of that project), run as ``registrator -explicit -ip <HOST_IP>``:

- A service is a published port (``-p``): one per exposed port that has a host binding, at
  the first binding's host port. A container in host network mode publishes its exposed
  ports as they are. The address is always the configured host IP (Registrator's ``-ip``).
- Metadata comes from labels and environment variables named ``SERVICE_<key>`` (the
  default of every port) or ``SERVICE_<port>_<key>`` (that exposed port only, and it wins);
  the environment wins over labels; keys are lower-cased.
- ``name``: a port without one (``SERVICE_NAME`` or ``SERVICE_<port>_NAME``) is not
  registered: Registrator's ``-explicit`` mode, where Registrator's default registers every
  published port under its image's name. With several published ports, a name that did not
  come from a port-specific key gets ``-<port>`` appended.
- ``ignore``: any non-empty ``SERVICE_IGNORE`` skips the container, ``SERVICE_<port>_IGNORE``
  that port (as in Registrator, even the value ``false``).
- ``id``: ``<hostname>:<container name>:<exposed port>`` (``:udp`` appended for UDP), unless
  ``SERVICE_ID`` / ``SERVICE_<port>_ID`` is given.
- ``tags``: a comma list (``\\,`` is a literal comma); UDP services also get ``udp``.
- Checks, as Registrator's Consul backend: ``check_http`` (a path, polled at
  ``http://<ip>:<port><path>``), else ``check_https``, else ``check_ttl``; ``check_interval``
  (default 10s) and ``check_deregister_after`` are Go durations (``1s``, ``1m30s``).
  ``check_tcp``, ``check_script``, ``check_cmd``, ``check_timeout`` and
  ``check_initial_status`` are not supported by the discovery port: they are noted and
  ignored.
- Every other key becomes service meta (Registrator kept them as "attributes", which its
  Consul backend did not store). Keys Consul refuses are noted and dropped. Each service
  also carries ``whisk-registrator: <hostname>`` in its meta, marking it as ours.

Ours, not Registrator's: containers labelled ``org.whisk.role=action`` (the invoker's action
containers) are never registered; tags are trimmed, and empty ones dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from whisk_services.ports.discovery import Check, Registration

ROLE_LABEL = "org.whisk.role"
ACTION_ROLE = "action"
OWNER_META = "whisk-registrator"
DEFAULT_CHECK_INTERVAL_S = 10.0
CONTROL_KEYS = frozenset({"name", "id", "tags", "ignore"})
UNSUPPORTED_CHECK_KEYS = (
    "check_tcp",
    "check_script",
    "check_cmd",
    "check_timeout",
    "check_initial_status",
)
_META_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_META_VALUE_MAX = 512
_META_PAIRS_MAX = 64
_OWN_ID_REST = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+:[0-9]+(?::udp)?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


class DeclarationError(ValueError):
    """A service's declaration cannot be registered (the message says why)."""


@dataclass(frozen=True, slots=True)
class PublishedPort:
    """An exposed container port and where the host publishes it."""

    port: int
    protocol: str
    host_port: int


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """What the rules read from one container."""

    id: str
    name: str
    running: bool
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[PublishedPort, ...] = ()

    @classmethod
    def from_inspect(cls, attrs: Mapping[str, Any]) -> ContainerSpec:
        """From the answer of ``docker inspect`` (the SDK's ``container.attrs``)."""
        config = attrs.get("Config") or {}
        env: dict[str, str] = {}
        for item in config.get("Env") or ():
            key, _, value = str(item).partition("=")
            env[key] = value
        labels = {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
        network_mode = str((attrs.get("HostConfig") or {}).get("NetworkMode") or "")
        if network_mode == "host":
            ports = [
                _published(key, [{"HostPort": key.partition("/")[0]}])
                for key in (config.get("ExposedPorts") or {})
            ]
        else:
            bindings = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
            ports = [_published(key, value) for key, value in bindings.items()]
        return cls(
            id=str(attrs.get("Id", "")),
            name=str(attrs.get("Name", "")).lstrip("/"),
            running=bool((attrs.get("State") or {}).get("Running", False)),
            env=env,
            labels=labels,
            ports=tuple(sorted((p for p in ports if p is not None), key=_port_order)),
        )


def _port_order(port: PublishedPort) -> tuple[int, str]:
    return (port.port, port.protocol)


def _published(key: str, bindings: Sequence[Mapping[str, Any]] | None) -> PublishedPort | None:
    """``"8000/tcp"`` and its host bindings; None when not published (or malformed)."""
    number, _, protocol = key.partition("/")
    host_port = str((bindings or [{}])[0].get("HostPort") or "")
    if not number.isdigit() or not host_port.isdigit():
        return None
    return PublishedPort(int(number), protocol or "tcp", int(host_port))


@dataclass(frozen=True, slots=True)
class Declared:
    """The registrations a container asks for, and what was skipped or ignored, and why."""

    registrations: tuple[Registration, ...] = ()
    notes: tuple[str, ...] = ()


def split_tags(raw: str) -> tuple[str, ...]:
    """A comma list (``\\,`` escapes a comma); items trimmed, empty and repeated ones dropped."""
    items: list[str] = []
    current = ""
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and raw[index + 1 : index + 2] == ",":
            current += ","
            index += 2
            continue
        if char == ",":
            items.append(current)
            current = ""
        else:
            current += char
        index += 1
    items.append(current)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if item and item not in out:
            out.append(item)
    return tuple(out)


def parse_duration(raw: str) -> float:
    """A Go duration (``10s``, ``1m30s``, ``500ms``, ``0``) in seconds."""
    text = raw.strip()
    if text == "0":
        return 0.0
    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise DeclarationError(f"{raw!r} is not a duration such as 10s, 1m30s or 500ms")
    return total


def metadata(spec: ContainerSpec, port: int) -> tuple[dict[str, str], set[str]]:
    """The ``SERVICE_*`` keys that apply to ``port`` (lower-cased, without the prefix), and
    which of them came from a ``SERVICE_<port>_*`` key."""
    merged = {**spec.labels, **spec.env}  # the environment wins over labels
    general: dict[str, str] = {}
    specific: dict[str, str] = {}
    for name, value in merged.items():
        if not name.startswith("SERVICE_") or name == "SERVICE_":
            continue
        key = name.removeprefix("SERVICE_").lower()
        head, sep, rest = key.partition("_")
        if head.isdigit() and sep and rest:
            if int(head) == port:
                specific[rest] = value
        else:
            general[key] = value
    return {**general, **specific}, set(specific)


def declared_services(spec: ContainerSpec, *, hostname: str, host_ip: str) -> Declared:
    """The services ``spec`` declares, registered by ``hostname`` at ``host_ip``."""
    if spec.labels.get(ROLE_LABEL) == ACTION_ROLE:
        return Declared(notes=("an action container: never registered",))
    if not spec.running:
        return Declared(notes=("not running",))
    if not spec.ports:
        return Declared(notes=("no published port",))
    registrations: list[Registration] = []
    notes: list[str] = []
    group = len(spec.ports) > 1
    for published in spec.ports:
        values, from_port = metadata(spec, published.port)
        label = f"port {published.port}/{published.protocol}"
        if values.get("ignore"):
            notes.append(f"{label}: ignored (SERVICE_IGNORE)")
            continue
        if not values.get("name"):
            notes.append(f"{label}: no SERVICE_NAME, not registered")
            continue
        try:
            registration, more = _registration(
                spec,
                published=published,
                values=values,
                from_port=from_port,
                group=group,
                hostname=hostname,
                host_ip=host_ip,
            )
        except DeclarationError as error:
            notes.append(f"{label}: not registered: {error}")
            continue
        registrations.append(registration)
        notes.extend(f"{label}: {note}" for note in more)
    return Declared(tuple(registrations), tuple(notes))


def _registration(
    spec: ContainerSpec,
    *,
    published: PublishedPort,
    values: Mapping[str, str],
    from_port: set[str],
    group: bool,
    hostname: str,
    host_ip: str,
) -> tuple[Registration, list[str]]:
    udp = published.protocol == "udp"
    name = values["name"]
    if group and "name" not in from_port:
        name = f"{name}-{published.port}"
    service_id = values.get("id") or (
        f"{hostname}:{spec.name}:{published.port}" + (":udp" if udp else "")
    )
    tags = split_tags(values.get("tags", ""))
    if udp and "udp" not in tags:
        tags = (*tags, "udp")
    check, notes = _check(values, host_ip, published.host_port)
    meta, meta_notes = _meta(values, hostname)
    registration = Registration(
        id=service_id,
        name=name,
        address=host_ip,
        port=published.host_port,
        tags=tags,
        meta=meta,
        check=check,
    )
    return registration, notes + meta_notes


def _check(values: Mapping[str, str], host_ip: str, port: int) -> tuple[Check | None, list[str]]:
    notes = [
        f"SERVICE_{key.upper()} is not supported, ignored"
        for key in UNSUPPORTED_CHECK_KEYS
        if values.get(key)
    ]
    host = f"[{host_ip}]" if ":" in host_ip else host_ip
    deregister = values.get("check_deregister_after")
    deregister_after_s = parse_duration(deregister) if deregister else None
    interval = values.get("check_interval")
    interval_s = parse_duration(interval) if interval else DEFAULT_CHECK_INTERVAL_S
    for scheme in ("http", "https"):
        path = values.get(f"check_{scheme}")
        if path:
            url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
            check = Check(http=url, interval_s=interval_s, deregister_after_s=deregister_after_s)
            return check, notes
    ttl = values.get("check_ttl")
    if ttl:
        return Check(ttl_s=parse_duration(ttl), deregister_after_s=deregister_after_s), notes
    return None, notes


def _meta(values: Mapping[str, str], hostname: str) -> tuple[dict[str, str], list[str]]:
    meta: dict[str, str] = {}
    notes: list[str] = []
    for key, value in sorted(values.items()):
        if key in CONTROL_KEYS or key.startswith("check_") or key == OWNER_META:
            continue
        if not _META_KEY.match(key) or key.startswith("consul-"):
            notes.append(f"meta key {key!r} is not allowed by Consul, dropped")
        elif len(value) > _META_VALUE_MAX:
            notes.append(f"meta {key!r} is longer than {_META_VALUE_MAX} characters, dropped")
        elif len(meta) >= _META_PAIRS_MAX - 1:
            notes.append(f"meta {key!r} is over Consul's {_META_PAIRS_MAX} pairs, dropped")
        else:
            meta[key] = value
    meta[OWNER_META] = hostname
    return meta, notes


def owned(registration: Registration, hostname: str) -> bool:
    """True if ``registration`` is one this registrator (``hostname``) made: our meta mark,
    or an id of Registrator's form ``<hostname>:<container name>:<port>[:udp]``."""
    if registration.meta.get(OWNER_META) == hostname:
        return True
    prefix = f"{hostname}:"
    return registration.id.startswith(prefix) and bool(
        _OWN_ID_REST.match(registration.id[len(prefix) :])
    )
