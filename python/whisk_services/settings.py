"""Settings of each daemon, read once from the environment, failing fast and saying why.

One frozen dataclass per daemon. A missing or malformed variable stops the daemon at start
with a message naming the variable and what it must hold.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _text(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, default)
    if value is None or value == "":
        raise SettingsError(f"{name} must be set")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"{name} must be a TCP port (1-65535), not {raw!r}")
    return int(raw)


def _url(env: Mapping[str, str], name: str) -> str:
    value = _text(env, name)
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(f"{name} must be an http(s) URL such as http://127.0.0.1:5984")
    return value.rstrip("/")


def _instance(env: Mapping[str, str], prefix: str) -> int:
    raw = env.get(f"{prefix}INSTANCE", "0")
    if not raw.isdigit():
        raise SettingsError(f"{prefix}INSTANCE must be a number >= 0, not {raw!r}")
    return int(raw)


def _log_level(env: Mapping[str, str], prefix: str) -> str:
    level = env.get(f"{prefix}LOG_LEVEL", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"{prefix}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    return level


@dataclass(frozen=True, slots=True)
class CouchDBSettings:
    """Where the databases are, and the admin credentials to reach them."""

    url: str
    user: str
    password: str
    db_prefix: str

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, prefix: str = "WHISK_CONTROLLER_"
    ) -> CouchDBSettings:
        source = os.environ if env is None else env
        db_prefix = source.get(f"{prefix}DB_PREFIX", "whisk_local_")
        if not db_prefix.replace("_", "").isalnum() or not db_prefix[:1].isalpha():
            raise SettingsError(f"{prefix}DB_PREFIX must be letters, digits and _ (a letter first)")
        return cls(
            url=_url(source, f"{prefix}COUCHDB_URL"),
            user=_text(source, f"{prefix}COUCHDB_USER"),
            password=_text(source, f"{prefix}COUCHDB_PASSWORD"),
            db_prefix=db_prefix.lower(),
        )


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    """`whisk-controller`: where it listens, its databases, and its Kafka invoke path.

    Without ``kafka_hosts`` the controller serves the API but has no invoke path (invokes
    answer 503). ``invokers`` are the invoker instances it sends activations to;
    ``blocking_wait_s`` is the most a blocking invoke waits for its result. The three
    throttles are the defaults of every namespace without its own (``wskadmin limits``),
    each counted across all controllers (0 blocks everything). With ``consul_url`` the
    invokers are discovered in Consul (the healthy, undrained ones) instead of ``invokers``.
    ``ack_timeout_s`` is the grace added to an action's time limit before an activation
    without completion is forced complete (its record written by the controller);
    ``health_cycle_s`` is how often an unhealthy invoker gets the health test action.
    ``drain_s`` is how long a stopping controller, no longer accepting requests, lets the
    requests in progress, blocking waits and sequences finish before it answers the callers
    still waiting 202 with their activation id.
    """

    host: str
    port: int
    instance: int
    couchdb: CouchDBSettings
    log_level: str
    kafka_hosts: str | None = None
    invokers: tuple[int, ...] = (0,)
    blocking_wait_s: float = 60.0
    invocations_per_minute: int = 60
    concurrent_invocations: int = 30
    fires_per_minute: int = 60
    consul_url: str | None = None
    consul_token: str | None = None
    ack_timeout_s: float = 60.0
    health_cycle_s: float = 60.0
    drain_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ControllerSettings:
        source = os.environ if env is None else env
        prefix = "WHISK_CONTROLLER_"
        instance = _instance(source, prefix)
        log_level = _log_level(source, prefix)
        return cls(
            host=source.get(f"{prefix}HOST", "127.0.0.1"),
            port=_port(source, f"{prefix}PORT", 10001 + instance),
            instance=instance,
            couchdb=CouchDBSettings.from_env(source, prefix),
            log_level=log_level,
            kafka_hosts=_kafka_hosts(source, f"{prefix}KAFKA_HOSTS"),
            invokers=_instances(source, f"{prefix}INVOKERS", "0"),
            blocking_wait_s=_positive(source, f"{prefix}BLOCKING_WAIT_S", 60.0),
            invocations_per_minute=_count(source, f"{prefix}INVOCATIONS_PER_MINUTE", 60),
            concurrent_invocations=_count(source, f"{prefix}CONCURRENT_INVOCATIONS", 30),
            fires_per_minute=_count(source, f"{prefix}FIRES_PER_MINUTE", 60),
            consul_url=_optional_url(source, f"{prefix}CONSUL_URL"),
            consul_token=source.get(f"{prefix}CONSUL_TOKEN") or None,
            ack_timeout_s=_positive(source, f"{prefix}ACK_TIMEOUT_S", 60.0),
            health_cycle_s=_positive(source, f"{prefix}HEALTH_CYCLE_S", 60.0),
            drain_s=_positive(source, f"{prefix}DRAIN_S", 10.0),
        )


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    """An optional http(s) URL; unset or empty is None."""
    if not env.get(name, "").strip():
        return None
    return _url({name: env[name].strip()}, name)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _kafka_hosts(env: Mapping[str, str], name: str) -> str | None:
    """An optional bootstrap list ``host:port[,host:port...]``; unset or empty is None."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    hosts = [part.strip() for part in raw.split(",")]
    for host in hosts:
        address, sep, port = host.rpartition(":")
        if not sep or not address or not _digits(port) or not 0 < int(port) < 65536:
            raise SettingsError(f"{name} must be a comma-separated list of HOST:PORT, not {raw!r}")
    return ",".join(hosts)


def _instances(env: Mapping[str, str], name: str, default: str) -> tuple[int, ...]:
    """A non-empty comma-separated list of distinct instance numbers (>= 0)."""
    raw = env.get(name, default)
    parts = [part.strip() for part in raw.split(",")]
    if not all(_digits(part) for part in parts):
        raise SettingsError(
            f"{name} must be a comma-separated list of instance numbers >= 0, not {raw!r}"
        )
    numbers = tuple(int(part) for part in parts)
    if len(set(numbers)) != len(numbers):
        raise SettingsError(f"{name} lists an instance twice: {raw!r}")
    return numbers


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number >= 0."""
    raw = env.get(name, str(default)).strip()
    if not _digits(raw):
        raise SettingsError(f"{name} must be a whole number >= 0, not {raw!r}")
    return int(raw)


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    """A number > 0 (seconds)."""
    raw = env.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds > 0, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a number of seconds > 0, not {raw!r}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, low: float) -> float:
    raw = env.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value < low:
        raise SettingsError(f"{name} must be >= {low:g}, not {raw!r}")
    return value


def _pairs(env: Mapping[str, str], name: str, default: str) -> list[tuple[str, str]]:
    """``a=b,c=d`` as pairs; an empty value is no pair."""
    raw = env.get(name, default)
    pairs: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SettingsError(f"{name} must be a comma-separated list of KEY=VALUE, not {raw!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


@dataclass(frozen=True, slots=True)
class PrewarmSetting:
    """``count`` stem cells of ``kind`` with ``memory_mb`` each."""

    kind: str
    memory_mb: int
    count: int


def _prewarm(env: Mapping[str, str], name: str, default: str) -> tuple[PrewarmSetting, ...]:
    out: list[PrewarmSetting] = []
    for key, count in _pairs(env, name, default):
        kind, sep, memory = key.rpartition("@")
        if not sep or not kind or not memory.isdigit() or not count.isdigit():
            raise SettingsError(f"{name} entries are KIND@MEMORY_MB=COUNT, not {key}={count}")
        out.append(PrewarmSetting(kind, int(memory), int(count)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class InvokerSettings:
    """`whisk-invoker`: its instance, Kafka, the databases, the container pool and network.

    With ``consul_url`` it registers in Consul as service ``invoker`` (id ``invoker<N>``,
    at ``advertise_address``:``port``) with a TTL check of ``consul_ttl_s`` it refreshes.
    """

    instance: int
    unique_name: str
    kafka_hosts: str
    couchdb: CouchDBSettings
    user_memory_mb: int
    pause_grace_s: float
    idle_timeout_s: float
    prewarm: tuple[PrewarmSetting, ...]
    runtime_images: dict[str, str]
    network: str
    network_subnet: str
    network_bridge: str
    action_egress: bool
    api_host: str
    log_level: str
    consul_url: str | None = None
    consul_token: str | None = None
    consul_ttl_s: float = 10.0
    advertise_address: str = "127.0.0.1"
    port: int = 12001

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> InvokerSettings:
        source = os.environ if env is None else env
        prefix = "WHISK_INVOKER_"
        instance = _instance(source, prefix)
        log_level = _log_level(source, prefix)
        memory = _number(source, f"{prefix}USER_MEMORY_MB", 2048, 128)
        egress = source.get(f"{prefix}ACTION_EGRESS", "false").lower()
        if egress not in {"true", "false"}:
            raise SettingsError(f"{prefix}ACTION_EGRESS must be true or false")
        return cls(
            instance=instance,
            unique_name=source.get(f"{prefix}UNIQUE_NAME", f"invoker{instance}"),
            kafka_hosts=_text(source, f"{prefix}KAFKA_HOSTS"),
            couchdb=CouchDBSettings.from_env(source, prefix),
            user_memory_mb=int(memory),
            pause_grace_s=_number(source, f"{prefix}PAUSE_GRACE_S", 10.0, 0.0),
            idle_timeout_s=_number(source, f"{prefix}IDLE_TIMEOUT_S", 600.0, 0.0),
            prewarm=_prewarm(source, f"{prefix}PREWARM", "python:3.11@256=2,nodejs:18@256=1"),
            runtime_images=dict(
                _pairs(
                    source,
                    f"{prefix}RUNTIME_IMAGES",
                    "python:3.11=whisk/action-python:3.11,nodejs:18=whisk/action-nodejs:18",
                )
            ),
            network=source.get(f"{prefix}NETWORK", "whisk-actions"),
            network_subnet=source.get(f"{prefix}NETWORK_SUBNET", "172.31.250.0/24"),
            network_bridge=source.get(f"{prefix}NETWORK_BRIDGE", "whiskact0"),
            action_egress=egress == "true",
            api_host=source.get(f"{prefix}API_HOST", ""),
            log_level=log_level,
            consul_url=_optional_url(source, f"{prefix}CONSUL_URL"),
            consul_token=source.get(f"{prefix}CONSUL_TOKEN") or None,
            consul_ttl_s=_positive(source, f"{prefix}CONSUL_TTL_S", 10.0),
            advertise_address=source.get(f"{prefix}ADVERTISE_ADDRESS", "127.0.0.1"),
            port=_port(source, f"{prefix}PORT", 12001 + instance),
        )


def _host_ip(env: Mapping[str, str], name: str, default: str) -> str:
    import ipaddress  # noqa: PLC0415 -- here, so that this section stays self-contained

    raw = env.get(name, default).strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        message = f"{name} must be an IP address such as 127.0.0.1, not {raw!r}"
        raise SettingsError(message) from None


@dataclass(frozen=True, slots=True)
class RegistratorSettings:
    """`whisk-registrator`: the Consul agent it registers with, and how it names services.

    ``host_ip`` is the address advertised for published ports (Registrator's ``-ip``);
    ``hostname`` starts every service id (``<hostname>:<container>:<port>``) and marks the
    services this registrator owns; ``resync_s`` is the period of the full resync.
    """

    consul_url: str
    consul_token: str | None
    host_ip: str
    hostname: str
    resync_s: float
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RegistratorSettings:
        import socket  # noqa: PLC0415 -- here, so that this section stays self-contained

        source = os.environ if env is None else env
        prefix = "WHISK_REGISTRATOR_"
        log_level = _log_level(source, prefix)
        url_name = f"{prefix}CONSUL_URL"
        hostname_name = f"{prefix}HOSTNAME"
        hostname = source.get(hostname_name, "") or socket.gethostname()
        if not hostname.isprintable() or ":" in hostname or " " in hostname:
            raise SettingsError(f"{hostname_name} must be a host name without ':' or spaces")
        return cls(
            consul_url=_url({url_name: source.get(url_name, "http://127.0.0.1:8500")}, url_name),
            consul_token=source.get(f"{prefix}CONSUL_TOKEN") or None,
            host_ip=_host_ip(source, f"{prefix}HOST_IP", "127.0.0.1"),
            hostname=hostname,
            resync_s=_positive(source, f"{prefix}RESYNC_S", 30.0),
            log_level=log_level,
        )
