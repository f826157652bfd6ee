"""The discovery port on Consul's HTTP API (agent services and checks, health, KV).

One aiohttp session per client. Blocking queries pass ``index`` and ``wait``; Consul
answers when the data changed or the wait ended, with the new ``X-Consul-Index``. An index
that went backwards (the agent restarted) is reset to 0, as Consul's documentation asks.
Every failure (unreachable agent, an answer other than 200) is a DiscoveryError.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from whisk_services.ports.discovery import (
    Check,
    DiscoveryError,
    Instance,
    Registration,
    worst,
)

_TIMEOUT_MARGIN_S = 10.0  # a blocking query's HTTP timeout: its wait plus this


def _duration(seconds: float) -> str:
    return f"{max(seconds, 0.001):.3f}s"


def _check_body(check: Check) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if check.ttl_s is not None:
        body["TTL"] = _duration(check.ttl_s)
    if check.http is not None:
        body["HTTP"] = check.http
        body["Interval"] = _duration(check.interval_s)
    if check.deregister_after_s is not None:
        body["DeregisterCriticalServiceAfter"] = _duration(check.deregister_after_s)
    return body


class ConsulRegistry:
    """A client of the Consul agent at ``url`` (``http://host:8500``), with an optional
    ACL token."""

    def __init__(self, url: str, *, token: str | None = None) -> None:
        self._url = url.rstrip("/")
        headers = {"X-Consul-Token": token} if token else {}
        self._session = aiohttp.ClientSession(headers=headers)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        data: bytes | None = None,
        timeout_s: float = 10.0,
        missing_ok: bool = False,
    ) -> tuple[Any, int]:
        """The decoded JSON answer (None for 404 when ``missing_ok``) and X-Consul-Index."""
        try:
            async with self._session.request(
                method,
                f"{self._url}{path}",
                params=params,
                json=body,
                data=data,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                text = await response.text()
                index = int(response.headers.get("X-Consul-Index", "0") or 0)
                if response.status == 404 and missing_ok:
                    return None, index
                if response.status != 200:
                    raise DiscoveryError(f"consul {method} {path}: {response.status} {text[:200]}")
                return (json.loads(text) if text else None), index
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise DiscoveryError(f"consul {method} {path}: {error}") from error

    async def register(self, registration: Registration) -> None:
        """``PUT /v1/agent/service/register``."""
        body: dict[str, Any] = {
            "ID": registration.id,
            "Name": registration.name,
            "Address": registration.address,
            "Port": registration.port,
            "Tags": list(registration.tags),
            "Meta": dict(registration.meta),
        }
        if registration.check is not None:
            body["Check"] = _check_body(registration.check)
        await self._call("PUT", "/v1/agent/service/register", body=body)

    async def deregister(self, service_id: str) -> None:
        """``PUT /v1/agent/service/deregister/<id>`` (absent: a no-op)."""
        path = f"/v1/agent/service/deregister/{quote(service_id, safe='')}"
        await self._call("PUT", path, missing_ok=True)

    async def _ttl(self, state: str, service_id: str, note: str) -> None:
        check = quote(f"service:{service_id}", safe="")
        await self._call("PUT", f"/v1/agent/check/{state}/{check}", params={"note": note})

    async def pass_ttl(self, service_id: str, note: str = "") -> None:
        """Report the service's TTL check passing."""
        await self._ttl("pass", service_id, note)

    async def fail_ttl(self, service_id: str, note: str = "") -> None:
        """Report the service's TTL check critical."""
        await self._ttl("fail", service_id, note)

    async def local_services(self) -> dict[str, Registration]:
        """``GET /v1/agent/services``."""
        body, _ = await self._call("GET", "/v1/agent/services")
        return {
            service_id: Registration(
                id=service_id,
                name=str(entry.get("Service", "")),
                address=str(entry.get("Address", "")),
                port=int(entry.get("Port", 0)),
                tags=tuple(entry.get("Tags") or ()),
                meta=dict(entry.get("Meta") or {}),
            )
            for service_id, entry in (body or {}).items()
        }

    async def instances(
        self, name: str, *, index: int | None = None, wait_s: float = 60.0
    ) -> tuple[list[Instance], int]:
        """``GET /v1/health/service/<name>``, blocking when ``index`` is given."""
        params = {} if index is None else {"index": str(index), "wait": _duration(wait_s)}
        body, new_index = await self._call(
            "GET",
            f"/v1/health/service/{quote(name, safe='')}",
            params=params,
            timeout_s=wait_s + _TIMEOUT_MARGIN_S,
        )
        found = []
        for entry in body or []:
            service = entry.get("Service") or {}
            node = entry.get("Node") or {}
            checks = entry.get("Checks") or []
            found.append(
                Instance(
                    id=str(service.get("ID", "")),
                    name=str(service.get("Service", "")),
                    address=str(service.get("Address") or node.get("Address", "")),
                    port=int(service.get("Port", 0)),
                    tags=tuple(service.get("Tags") or ()),
                    meta=dict(service.get("Meta") or {}),
                    health=worst([str(c.get("Status", "")) for c in checks]),
                    output="\n".join(str(c.get("Output", "")) for c in checks if c.get("Output")),
                )
            )
        return found, _next_index(index, new_index)

    async def kv_get(self, key: str) -> bytes | None:
        """``GET /v1/kv/<key>``."""
        body, _ = await self._call("GET", f"/v1/kv/{quote(key)}", missing_ok=True)
        if not body:
            return None
        value = body[0].get("Value")
        return base64.b64decode(value) if value else b""

    async def kv_put(self, key: str, value: bytes) -> None:
        """``PUT /v1/kv/<key>``."""
        await self._call("PUT", f"/v1/kv/{quote(key)}", data=value)

    async def kv_delete(self, key: str) -> None:
        """``DELETE /v1/kv/<key>``."""
        await self._call("DELETE", f"/v1/kv/{quote(key)}", missing_ok=True)

    async def kv_tree(
        self, prefix: str, *, index: int | None = None, wait_s: float = 60.0
    ) -> tuple[dict[str, bytes], int]:
        """``GET /v1/kv/<prefix>?recurse``, blocking when ``index`` is given."""
        params = {"recurse": "true"}
        if index is not None:
            params |= {"index": str(index), "wait": _duration(wait_s)}
        body, new_index = await self._call(
            "GET",
            f"/v1/kv/{quote(prefix)}",
            params=params,
            timeout_s=wait_s + _TIMEOUT_MARGIN_S,
            missing_ok=True,
        )
        tree = {
            str(entry["Key"]): base64.b64decode(entry["Value"]) if entry.get("Value") else b""
            for entry in body or []
        }
        return tree, _next_index(index, new_index)


def _next_index(old: int | None, new: int) -> int:
    """Consul's rule: an index that went backwards (or is 0) restarts the wait at 0."""
    if new <= 0 or (old is not None and new < old):
        return 0
    return new
