"""`wskadmin config set-throttles | unset-throttles | show` over an in-memory registry."""

from __future__ import annotations

import asyncio
import json

import pytest

from whisk_services.adapters.memory_discovery import MemoryRegistry
from whisk_services.cli import wskadmin
from whisk_services.controller.runtime_config import THROTTLES_KEY


def admin(registry: MemoryRegistry, *argv: str) -> int:
    async def no_databases() -> None:
        raise AssertionError("config needs no database")

    return asyncio.run(
        wskadmin._main(
            [*argv, "--consul-url", "http://consul:8500"],
            no_databases,  # type: ignore[arg-type]
            lambda _url: registry,
        )
    )


def test_set_merges_show_prints_unset_removes(capsys: pytest.CaptureFixture[str]) -> None:
    registry = MemoryRegistry()
    assert admin(registry, "config", "show") == 0
    assert "not set" in capsys.readouterr().out
    assert admin(registry, "config", "set-throttles", "--invocationsPerMinute", "0") == 0
    assert admin(registry, "config", "set-throttles", "--firesPerMinute", "7") == 0
    assert json.loads(registry.kv[THROTTLES_KEY]) == {
        "invocationsPerMinute": 0,
        "firesPerMinute": 7,
    }
    capsys.readouterr()
    assert admin(registry, "config", "show") == 0
    assert capsys.readouterr().out == (
        f'{THROTTLES_KEY}: {{"firesPerMinute": 7, "invocationsPerMinute": 0}}\n'
    )
    assert admin(registry, "config", "unset-throttles") == 0
    assert THROTTLES_KEY not in registry.kv


def test_set_needs_a_limit_and_show_flags_a_malformed_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = MemoryRegistry()
    assert admin(registry, "config", "set-throttles") == 1
    assert "name at least one limit" in capsys.readouterr().err
    registry.kv[THROTTLES_KEY] = b"oops"
    assert admin(registry, "config", "show") == 0
    assert "malformed" in capsys.readouterr().out
    assert admin(registry, "config", "set-throttles", "--concurrentInvocations", "2") == 0
    assert json.loads(registry.kv[THROTTLES_KEY]) == {"concurrentInvocations": 2}


def test_an_unreachable_consul_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    registry = MemoryRegistry()
    registry.down = True
    assert admin(registry, "config", "show") == 1
    assert "consul" in capsys.readouterr().err
