"""Throttles counted across controllers: two controller processes (instances 12 and 13) and
one invoker (12) share the session's Kafka broker and CouchDB-API server; the 429 names
the namespace's own limit, whichever controller answers, and `wskadmin limits set` is seen
live.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.controller_support import Client, assert_error, fresh, ok
from tests.integration.platform_support import Platform
from tests.integration.servers import serve
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.kafka import KafkaBroker

pytestmark = pytest.mark.integration

DB_PREFIX = "throttles_"
NETWORK = ("whisk-test-throttle", "172.31.240.0/24", "whiskttht0")
INSTANCE = 12  # controller A and the invoker (the shared `platform` fixture)
SECOND = 13  # controller B
ECHO_PY = "def main(args):\n    return args\n"


@pytest.fixture(scope="module")
def second(
    platform: Platform, test_logs: Path, couchdb: CouchDBServer, kafka_broker: KafkaBroker
) -> Iterator[Client]:
    """The guest's client of controller B, which sends to the same invoker."""
    controller = ControllerProcess(
        test_logs / "test_throttles_b",
        couchdb,
        db_prefix=DB_PREFIX,
        kafka_hosts=kafka_broker.bootstrap_servers,
        invokers=(INSTANCE,),
        instance=SECOND,
    )
    user, key = platform.guest.session.auth  # type: ignore[misc]
    for started in serve(controller):
        yield Client(started.url, f"{user}:{key}")


def set_limits(platform: Platform, *clients: Client, **limits: int) -> None:
    """`wskadmin limits set guest ...`, then wait until every controller sees it."""
    flags = [part for name, value in limits.items() for part in (f"--{name}", str(value))]
    result = platform.controller.wskadmin("limits", "set", "guest", *flags)
    assert result.returncode == 0, result.stderr
    for client in clients:
        until(lambda c=client: _sees(c, limits))  # type: ignore[misc]


def _sees(client: Client, limits: dict[str, int]) -> bool:
    current = ok(client.call("GET", "/namespaces/_/limits"))
    return all(current[name] == value for name, value in limits.items())


def until(condition: Callable[[], bool], wait_s: float = 10.0) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def same_minute(needed_s: float = 8.0) -> None:
    """Wait for the next minute when fewer than ``needed_s`` seconds are left in this one,
    so the counts of a test are not reset halfway."""
    left = 60 - time.time() % 60
    if left < needed_s:
        time.sleep(left + 0.05)


def exchanged() -> None:
    """Let the controllers' reports cross (sent every ~100 ms): a request that reaches one
    controller before the other's report is admitted, the overshoot the throttles allow."""
    time.sleep(1.0)


def invoke(client: Client, action: str) -> requests.Response:
    return client.call("POST", f"/namespaces/_/actions/{action}", json={})


def test_invokes_are_counted_across_both_controllers(platform: Platform, second: Client) -> None:
    first = platform.guest
    action = fresh("echo")
    platform.create(action, ECHO_PY)
    set_limits(platform, first, second, invocationsPerMinute=5)
    same_minute()
    for client in (first, first, first, second, second):
        response = invoke(client, action)
        assert response.status_code == 202, response.text
    message = "Too many requests in the last minute (count: 5, allowed: 5)."
    exchanged()
    assert_error(invoke(first, action), 429, message)
    assert_error(invoke(second, action), 429, message)
    set_limits(platform, first, second, invocationsPerMinute=100)
    response = invoke(second, action)
    assert response.status_code == 202, response.text


def test_fires_are_throttled_by_fires_per_minute(platform: Platform, second: Client) -> None:
    first = platform.guest
    trigger = fresh("t")
    ok(first.call("PUT", f"/namespaces/_/triggers/{trigger}", json={}))
    set_limits(platform, first, second, firesPerMinute=2)
    same_minute()

    def fire(client: Client) -> requests.Response:
        return client.call("POST", f"/namespaces/_/triggers/{trigger}", json={})

    assert fire(first).status_code == 204  # no rule: nothing runs, but the fire counts
    assert fire(second).status_code == 204
    exchanged()
    assert_error(fire(first), 429, "Too many requests in the last minute (count: 2, allowed: 2).")
    assert_error(fire(second), 429, "Too many requests in the last minute (count: 2, allowed: 2).")
    set_limits(platform, first, second, firesPerMinute=60)
    assert fire(first).status_code == 204


def test_concurrent_invocations_are_counted_across_both_controllers(
    platform: Platform, second: Client
) -> None:
    first = platform.guest
    sleeper = fresh("sleeper")
    platform.create(sleeper, "import time\ndef main(args):\n    time.sleep(6)\n    return {}\n")
    set_limits(platform, first, second, invocationsPerMinute=1000, concurrentInvocations=2)
    for client in (first, second):  # two activations in flight, one per controller
        response = invoke(client, sleeper)
        assert response.status_code == 202, response.text
    exchanged()
    message = "Too many concurrent requests in flight (count: 2, allowed: 2)."
    assert_error(invoke(first, sleeper), 429, message)
    assert_error(invoke(second, sleeper), 429, message)
    set_limits(platform, first, second, concurrentInvocations=3)  # raised live
    response = invoke(second, sleeper)
    assert response.status_code == 202, response.text
    exchanged()
    set_limits(platform, first, second, concurrentInvocations=1)  # lowered live
    assert_error(
        invoke(first, sleeper),
        429,
        "Too many concurrent requests in flight (count: 3, allowed: 1).",
    )
    until(lambda: invoke(first, sleeper).status_code == 202, wait_s=30)  # completions free it
    set_limits(platform, first, second, concurrentInvocations=30)
