"""The invoker's registration in the registry (in memory): its meta and TTL check, the
refresh, retries while the registry is down, and the deregistration."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from whisk_services.adapters.memory_discovery import MemoryRegistry
from whisk_services.invoker.registration import InvokerRegistration, invoker_registration
from whisk_services.ports.discovery import Check
from whisk_services.settings import InvokerSettings

ENV = {
    "WHISK_INVOKER_INSTANCE": "21",
    "WHISK_INVOKER_UNIQUE_NAME": "host-a-21",
    "WHISK_INVOKER_KAFKA_HOSTS": "127.0.0.1:9093",
    "WHISK_INVOKER_COUCHDB_URL": "http://127.0.0.1:5984",
    "WHISK_INVOKER_COUCHDB_USER": "admin",
    "WHISK_INVOKER_COUCHDB_PASSWORD": "secret",
    "WHISK_INVOKER_USER_MEMORY_MB": "1024",
    "WHISK_INVOKER_CONSUL_URL": "http://127.0.0.1:8500",
    "WHISK_INVOKER_CONSUL_TTL_S": "0.06",
}


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def test_settings_defaults_and_overrides() -> None:
    settings = InvokerSettings.from_env(ENV)
    assert settings.consul_url == "http://127.0.0.1:8500"
    assert settings.consul_ttl_s == 0.06
    assert (settings.advertise_address, settings.port) == ("127.0.0.1", 12022)
    plain = InvokerSettings.from_env(
        {k: v for k, v in ENV.items() if "CONSUL" not in k} | {"WHISK_INVOKER_PORT": "13000"}
    )
    assert (plain.consul_url, plain.consul_ttl_s, plain.port) == (None, 10.0, 13000)


def test_the_registration_carries_the_invokers_meta() -> None:
    registration = invoker_registration(InvokerSettings.from_env(ENV))
    assert (registration.id, registration.name) == ("invoker21", "invoker")
    assert (registration.address, registration.port) == ("127.0.0.1", 12022)
    assert registration.tags == ("whisk",)
    assert dict(registration.meta) == {
        "instance": "21",
        "uniqueName": "host-a-21",
        "userMemory": "1024",
        "kinds": "nodejs:18,python:3.11",
    }
    assert registration.check == Check(ttl_s=0.06, deregister_after_s=0.6)


def test_it_registers_refreshes_and_deregisters() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        registration = invoker_registration(InvokerSettings.from_env(ENV))
        keeper = InvokerRegistration(registry, registration, 0.06)
        await keeper.start()
        assert registry.calls == [("register", "invoker21")]
        assert registry.health["invoker21"] == ("passing", "alive")
        # A critical check (a missed TTL) turns passing again at the next report.
        await registry.fail_ttl("invoker21")
        await asyncio.sleep(0.05)
        assert registry.health["invoker21"][0] == "passing"
        await keeper.stop()
        assert registry.calls == [("register", "invoker21"), ("deregister", "invoker21")]
        assert "invoker21" not in registry.services
        await keeper.stop()  # idempotent
        assert len(registry.calls) == 2

    run(scenario)


def test_an_unreachable_registry_is_retried_and_registered_again() -> None:
    async def scenario() -> None:
        registry = MemoryRegistry()
        registry.down = True
        keeper = InvokerRegistration(
            registry, invoker_registration(InvokerSettings.from_env(ENV)), 0.03
        )
        await keeper.start()  # does not raise
        assert not keeper.registered
        registry.down = False
        await asyncio.sleep(0.05)
        assert registry.health["invoker21"][0] == "passing"
        # The agent forgot the service (restarted): registered again at the next report.
        registry.services.clear()
        registry.health.clear()
        await asyncio.sleep(0.05)
        assert registry.health["invoker21"][0] == "passing"
        assert [c for c in registry.calls if c[0] == "register"] == [("register", "invoker21")] * 2
        registry.down = True
        await keeper.stop()  # a failed deregistration is logged, not raised

    run(scenario)
