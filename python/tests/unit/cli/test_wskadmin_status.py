"""`wskadmin invoker status` (and `wskadmin status`) over an in-memory registry: one line
per invoker with its Consul health, drain flag and each controller's published view."""

from __future__ import annotations

import asyncio
import json

import pytest

from whisk_services.adapters.memory_discovery import MemoryRegistry
from whisk_services.cli import wskadmin
from whisk_services.controller.invoker_health import state_key
from whisk_services.controller.invoker_pool import drain_key
from whisk_services.ports.discovery import Check, Registration


def registry_with_two_invokers() -> MemoryRegistry:
    registry = MemoryRegistry()

    async def fill() -> None:
        for n in (22, 23):
            await registry.register(
                Registration(
                    id=f"invoker{n}",
                    name="invoker",
                    address="10.0.0.1",
                    port=12000 + n,
                    meta={"instance": str(n), "userMemory": "1024"},
                    check=Check(ttl_s=2),
                )
            )
        await registry.pass_ttl("invoker22", "alive")
        await registry.fail_ttl("invoker23", "TTL expired")
        await registry.kv_put(drain_key(23), b"drained")
        view = {
            "state": "unhealthy",
            "reason": '4 system errors among the last 4 results (latest x: "boom")',
            "since": "2024-01-01T00:00:00Z",
            "lastAck": "2024-01-01T00:00:01Z",
            "recentErrors": [{"kind": "system error"}] * 4,
            "controller": 22,
            "drained": False,
            "inFlight": 2,
        }
        await registry.kv_put(state_key(22, 22), json.dumps(view).encode())
        drained_view = {"state": "offline", "drained": True, "inFlight": 0}
        await registry.kv_put(state_key(23, 21), json.dumps(drained_view).encode())
        await registry.kv_put(state_key(24, 22), json.dumps({"state": "offline"}).encode())

    asyncio.run(fill())
    return registry


def test_one_line_per_invoker_with_state_and_reason() -> None:
    lines = asyncio.run(wskadmin.invoker_status(registry_with_two_invokers()))
    assert lines == [
        "invoker22 consul=passing drained=no controller22=unhealthy sawDrain=no inFlight=2"
        " since=2024-01-01T00:00:00Z lastAck=2024-01-01T00:00:01Z errors=4"
        " reason=\"4 system errors among the last 4 results (latest x: 'boom')\"",
        "invoker23 consul=critical drained=yes controller21=offline sawDrain=yes inFlight=0"
        ' since=- lastAck=- errors=0 reason="" check="TTL expired"',
        # A controller that publishes no drain fields (one not upgraded yet): unknown.
        "invoker24 consul=absent drained=no controller22=offline sawDrain=? inFlight=?"
        ' since=- lastAck=- errors=0 reason=""',
    ]


@pytest.mark.parametrize("argv", [["invoker", "status"], ["status"]])
def test_status_and_its_alias_exit_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    registry = registry_with_two_invokers()

    async def no_databases() -> None:
        raise AssertionError("status needs no database")

    code = asyncio.run(
        wskadmin._main(
            [*argv, "--consul-url", "http://consul:8500"],
            no_databases,  # type: ignore[arg-type]
            lambda _url: registry,
        )
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["invoker22", "invoker23", "invoker24"]


def test_status_without_invokers_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    async def no_databases() -> None:
        raise AssertionError("status needs no database")

    code = asyncio.run(
        wskadmin._main(
            ["status", "--consul-url", "http://consul:8500"],
            no_databases,  # type: ignore[arg-type]
            lambda _url: MemoryRegistry(),
        )
    )
    assert code == 0
    assert capsys.readouterr().out == "no invokers registered in consul\n"
