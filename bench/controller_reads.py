"""Measure a warm `GET /namespaces/_/actions/{name}` through the real controller.

The controller runs as its own process over a real PouchDB Server, as in the integration
tests; the client is one keep-alive `requests` session. Beside it, in the same run, the
floor: the same client against a trivial aiohttp server on loopback that answers the same
JSON body. The difference is what authentication, routing, the cache and rendering cost.
Figures are printed and saved under bench/results/.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import requests
from aiohttp import web

from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.network import LOOPBACK, free_port, wait_for_port

WARMUP = 100
SAMPLES = 2000
RESULTS = Path(__file__).resolve().parent / "results"
HELLO_JS = "function main() { return {msg: 'Hello World'}; }"


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": round(cuts[49], 3), "p90": round(cuts[89], 3), "p99": round(cuts[98], 3)}


def timed_gets(session: requests.Session, url: str) -> list[float]:
    samples: list[float] = []
    for i in range(WARMUP + SAMPLES):
        start = time.perf_counter()
        response = session.get(url, timeout=10)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.text
        if i >= WARMUP:
            samples.append(elapsed)
    return samples


def floor_server(body: bytes) -> tuple[int, threading.Thread]:
    """A trivial aiohttp server answering ``body`` on every GET, in a thread of its own."""
    port = free_port()

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    thread = threading.Thread(
        target=web.run_app,
        kwargs={"app": app, "host": LOOPBACK, "port": port, "print": None, "handle_signals": False},
        daemon=True,
    )
    thread.start()
    if not wait_for_port(port, 10):
        raise RuntimeError("the floor server did not start")
    return port, thread


def main() -> int:
    logs = Path(
        os.environ.get("WHISK_TEST_LOGS", Path(__file__).resolve().parents[1] / "test-logs")
    )
    workdir = logs / time.strftime("bench-controller-%Y%m%d-%H%M%S")
    couchdb = CouchDBServer(workdir / "couchdb")
    couchdb.start()
    controller = ControllerProcess(workdir / "controller", couchdb, db_prefix="bench_")
    try:
        controller.start()
        user, _, key = controller.create_subject("bench-user", "guest").partition(":")
        session = requests.Session()
        session.auth = (user, key)
        url = f"{controller.url}/api/v1/namespaces/_/actions/hello"
        created = session.put(url, json={"exec": {"kind": "nodejs:18", "code": HELLO_JS}})
        assert created.status_code == 200, created.text
        through_controller = timed_gets(session, url)
        body = session.get(url, timeout=10).content
    finally:
        controller.stop()
        couchdb.stop()

    port, _ = floor_server(body)
    floor = timed_gets(requests.Session(), f"http://{LOOPBACK}:{port}/")

    results = {
        "floor: trivial aiohttp server, same body": percentiles(floor),
        "controller: authenticated, cached read": percentiles(through_controller),
    }
    report = {
        "benchmark": "warm GET of one action through the controller (cached), keep-alive client",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "samples": SAMPLES,
        "body_bytes": len(body),
        "results_ms": results,
    }
    print(f"{'measure':<44} {'p50':>8} {'p90':>8} {'p99':>8}  (ms)")
    for name, figures in results.items():
        print(f"{name:<44} {figures['p50']:8.3f} {figures['p90']:8.3f} {figures['p99']:8.3f}")
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "controller-reads.json"
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
