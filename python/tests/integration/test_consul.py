"""The Consul agent built from its Go module is real: KV, services and health checks work."""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from whisk_testbed.consul import ConsulAgent
from whisk_testbed.network import LOOPBACK

pytestmark = pytest.mark.integration


class _Health(http.server.BaseHTTPRequestHandler):
    healthy = True

    def do_GET(self) -> None:
        code = 200 if type(self).healthy else 503
        body = b"ok" if code == 200 else b"down"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def health_endpoint() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Health", (_Health,), {"healthy": True})
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def _check_status(agent: ConsulAgent, service: str) -> str | None:
    checks = requests.get(f"{agent.http_address}/v1/health/checks/{service}", timeout=5).json()
    return checks[0]["Status"] if checks else None


def _wait_status(agent: ConsulAgent, service: str, wanted: str, deadline_s: float) -> str | None:
    end = time.monotonic() + deadline_s
    status = _check_status(agent, service)
    while status != wanted and time.monotonic() < end:
        time.sleep(0.2)
        status = _check_status(agent, service)
    return status


def test_kv_put_get_delete(consul_agent: ConsulAgent) -> None:
    key = f"{consul_agent.http_address}/v1/kv/whisk/test/{uuid.uuid4().hex}"
    assert requests.put(key, data=b"invoker0 healthy", timeout=5).json() is True
    response = requests.get(key, params={"raw": "true"}, timeout=5)
    assert response.status_code == 200
    assert response.content == b"invoker0 healthy"
    assert int(response.headers["X-Consul-Index"]) > 0

    assert requests.delete(key, timeout=5).json() is True
    assert requests.get(key, timeout=5).status_code == 404


def test_registered_service_turns_passing_and_back(
    consul_agent: ConsulAgent, health_endpoint: tuple[int, type[_Health]]
) -> None:
    port, handler = health_endpoint
    service = f"whisk-test-{uuid.uuid4().hex[:8]}"
    registration: dict[str, Any] = {
        "Name": service,
        "ID": service,
        "Address": LOOPBACK,
        "Port": port,
        "Check": {"HTTP": f"http://{LOOPBACK}:{port}/health", "Interval": "1s"},
    }
    response = requests.put(
        f"{consul_agent.http_address}/v1/agent/service/register", json=registration, timeout=5
    )
    assert response.status_code == 200, response.text
    try:
        assert _wait_status(consul_agent, service, "passing", 10) == "passing"
        passing = requests.get(
            f"{consul_agent.http_address}/v1/health/service/{service}",
            params={"passing": "true"},
            timeout=5,
        ).json()
        assert [entry["Service"]["Port"] for entry in passing] == [port]

        handler.healthy = False
        assert _wait_status(consul_agent, service, "critical", 10) == "critical"
    finally:
        requests.put(
            f"{consul_agent.http_address}/v1/agent/service/deregister/{service}", timeout=5
        )
    assert _check_status(consul_agent, service) is None
