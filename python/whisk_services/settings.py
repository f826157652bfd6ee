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
    """`whisk-controller`: where it listens and where its databases are."""

    host: str
    port: int
    instance: int
    couchdb: CouchDBSettings
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ControllerSettings:
        source = os.environ if env is None else env
        prefix = "WHISK_CONTROLLER_"
        instance_raw = source.get(f"{prefix}INSTANCE", "0")
        if not instance_raw.isdigit():
            raise SettingsError(f"{prefix}INSTANCE must be a number >= 0, not {instance_raw!r}")
        instance = int(instance_raw)
        log_level = source.get(f"{prefix}LOG_LEVEL", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"{prefix}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return cls(
            host=source.get(f"{prefix}HOST", "127.0.0.1"),
            port=_port(source, f"{prefix}PORT", 10001 + instance),
            instance=instance,
            couchdb=CouchDBSettings.from_env(source, prefix),
            log_level=log_level,
        )
