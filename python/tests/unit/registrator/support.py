"""Containers as ``docker inspect`` answers them, for the registrator's unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def inspect(
    name: str = "web.0",
    *,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    ports: Mapping[str, int | None] | None = None,
    running: bool = True,
    container_id: str | None = None,
    network_mode: str = "bridge",
    exposed: tuple[str, ...] = (),
) -> dict[str, Any]:
    """An inspect answer: ``ports`` maps ``"80/tcp"`` to its host port (None: exposed only)."""
    bindings = {
        key: None if host is None else [{"HostIp": "0.0.0.0", "HostPort": str(host)}]  # noqa: S104
        for key, host in (ports or {}).items()
    }
    return {
        "Id": container_id or f"{name.replace('.', '')}{'0' * 60}"[:64],
        "Name": f"/{name}",
        "State": {"Running": running},
        "Config": {
            "Image": "whisk/runtime-base:bookworm",
            "Env": [f"{k}={v}" for k, v in (env or {}).items()] + ["PATH=/usr/bin"],
            "Labels": dict(labels or {}),
            "ExposedPorts": {key: {} for key in (*(ports or {}), *exposed)},
        },
        "HostConfig": {"NetworkMode": network_mode},
        "NetworkSettings": {"Ports": {} if network_mode == "host" else bindings},
    }
