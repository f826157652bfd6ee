"""The `wsk` properties file (`~/.wskprops` or `$WSK_CONFIG_FILE`) and flag overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_APIVERSION = "v1"
DEFAULT_NAMESPACE = "_"
KNOWN_KEYS = ("APIHOST", "AUTH", "NAMESPACE", "APIVERSION", "CERT", "KEY", "APIGW_ACCESS_TOKEN")


def props_path() -> Path:
    """Where the properties live: `$WSK_CONFIG_FILE`, else `~/.wskprops`."""
    env = os.environ.get("WSK_CONFIG_FILE")
    if env:
        return Path(env)
    return Path.home() / ".wskprops"


def read_props(path: Path) -> dict[str, str]:
    """Read `KEY=VALUE` lines; blank lines and `#` comments are skipped. Missing file: {}."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = value.strip()
    return props


def write_props(path: Path, props: dict[str, str]) -> None:
    """Write the properties file with mode 0600 (it holds the auth key)."""
    body = "".join(f"{key}={value}\n" for key, value in props.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)
    os.chmod(path, 0o600)


def normalize_apihost(apihost: str) -> str:
    """`host[:port]` without a scheme means https; a trailing slash is dropped."""
    host = apihost.strip().rstrip("/")
    if "://" not in host:
        host = "https://" + host
    return host


@dataclass(frozen=True)
class Config:
    """The effective settings: properties file overridden by command-line flags."""

    apihost: str | None
    auth: str | None
    namespace: str
    apiversion: str
    insecure: bool = False
    debug: bool = False
    verbose: bool = False

    @property
    def base_url(self) -> str | None:
        """`https://host/api/v1`, or None when no API host is configured."""
        if not self.apihost:
            return None
        return f"{normalize_apihost(self.apihost)}/api/{self.apiversion}"


def load_config(
    *,
    apihost: str | None = None,
    auth: str | None = None,
    apiversion: str | None = None,
    insecure: bool = False,
    debug: bool = False,
    verbose: bool = False,
) -> Config:
    """Flags win over the properties file; the file wins over the built-in defaults."""
    props = read_props(props_path())
    return Config(
        apihost=apihost or props.get("APIHOST") or None,
        auth=auth or props.get("AUTH") or None,
        namespace=props.get("NAMESPACE") or DEFAULT_NAMESPACE,
        apiversion=apiversion or props.get("APIVERSION") or DEFAULT_APIVERSION,
        insecure=insecure,
        debug=debug,
        verbose=verbose,
    )
