"""whisk-controller reads its settings from the environment and fails fast on a bad one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from whisk_services.settings import ControllerSettings, SettingsError

VALID = {
    "WHISK_CONTROLLER_COUCHDB_URL": "http://127.0.0.1:5984/",
    "WHISK_CONTROLLER_COUCHDB_USER": "admin",
    "WHISK_CONTROLLER_COUCHDB_PASSWORD": "secret",
}


def test_defaults_follow_openwhisk_ports() -> None:
    settings = ControllerSettings.from_env(VALID)
    assert (settings.host, settings.port, settings.instance) == ("127.0.0.1", 10001, 0)
    assert settings.couchdb.url == "http://127.0.0.1:5984"
    assert settings.couchdb.db_prefix == "whisk_local_"
    second = ControllerSettings.from_env({**VALID, "WHISK_CONTROLLER_INSTANCE": "1"})
    assert second.port == 10002


def test_without_kafka_there_is_no_invoke_path_and_defaults_hold() -> None:
    settings = ControllerSettings.from_env(VALID)
    assert settings.kafka_hosts is None
    assert settings.invokers == (0,)
    assert settings.blocking_wait_s == 60.0
    empty = ControllerSettings.from_env({**VALID, "WHISK_CONTROLLER_KAFKA_HOSTS": " "})
    assert empty.kafka_hosts is None


def test_kafka_invokers_and_blocking_wait_are_read() -> None:
    settings = ControllerSettings.from_env(
        {
            **VALID,
            "WHISK_CONTROLLER_KAFKA_HOSTS": "127.0.0.1:9092, kafka1:9093",
            "WHISK_CONTROLLER_INVOKERS": "0, 2,5",
            "WHISK_CONTROLLER_BLOCKING_WAIT_S": "2.5",
        }
    )
    assert settings.kafka_hosts == "127.0.0.1:9092,kafka1:9093"
    assert settings.invokers == (0, 2, 5)
    assert settings.blocking_wait_s == 2.5


def test_throttle_defaults_are_openwhisk_s_and_can_be_overridden() -> None:
    settings = ControllerSettings.from_env(VALID)
    assert (
        settings.invocations_per_minute,
        settings.concurrent_invocations,
        settings.fires_per_minute,
    ) == (60, 30, 60)
    changed = ControllerSettings.from_env(
        {
            **VALID,
            "WHISK_CONTROLLER_INVOCATIONS_PER_MINUTE": "120",
            "WHISK_CONTROLLER_CONCURRENT_INVOCATIONS": " 0 ",
            "WHISK_CONTROLLER_FIRES_PER_MINUTE": "7",
        }
    )
    assert (
        changed.invocations_per_minute,
        changed.concurrent_invocations,
        changed.fires_per_minute,
    ) == (120, 0, 7)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WHISK_CONTROLLER_COUCHDB_URL": ""}, "WHISK_CONTROLLER_COUCHDB_URL must be set"),
        ({"WHISK_CONTROLLER_COUCHDB_URL": "ftp://x"}, "must be an http"),
        ({"WHISK_CONTROLLER_COUCHDB_PASSWORD": ""}, "WHISK_CONTROLLER_COUCHDB_PASSWORD must be"),
        ({"WHISK_CONTROLLER_PORT": "http"}, "WHISK_CONTROLLER_PORT must be a TCP port"),
        ({"WHISK_CONTROLLER_PORT": "70000"}, "WHISK_CONTROLLER_PORT must be a TCP port"),
        ({"WHISK_CONTROLLER_INSTANCE": "-1"}, "WHISK_CONTROLLER_INSTANCE must be a number"),
        ({"WHISK_CONTROLLER_LOG_LEVEL": "LOUD"}, "WHISK_CONTROLLER_LOG_LEVEL must be"),
        ({"WHISK_CONTROLLER_DB_PREFIX": "1x"}, "WHISK_CONTROLLER_DB_PREFIX must be"),
        ({"WHISK_CONTROLLER_KAFKA_HOSTS": "kafka"}, "WHISK_CONTROLLER_KAFKA_HOSTS must be"),
        ({"WHISK_CONTROLLER_KAFKA_HOSTS": "k:9092,"}, "WHISK_CONTROLLER_KAFKA_HOSTS must be"),
        ({"WHISK_CONTROLLER_KAFKA_HOSTS": ":9092"}, "WHISK_CONTROLLER_KAFKA_HOSTS must be"),
        ({"WHISK_CONTROLLER_KAFKA_HOSTS": "k:0"}, "WHISK_CONTROLLER_KAFKA_HOSTS must be"),
        ({"WHISK_CONTROLLER_KAFKA_HOSTS": "k:port"}, "WHISK_CONTROLLER_KAFKA_HOSTS must be"),
        ({"WHISK_CONTROLLER_INVOKERS": ""}, "WHISK_CONTROLLER_INVOKERS must be"),
        ({"WHISK_CONTROLLER_INVOKERS": "0,,1"}, "WHISK_CONTROLLER_INVOKERS must be"),
        ({"WHISK_CONTROLLER_INVOKERS": "-1"}, "WHISK_CONTROLLER_INVOKERS must be"),
        ({"WHISK_CONTROLLER_INVOKERS": "invoker0"}, "WHISK_CONTROLLER_INVOKERS must be"),
        ({"WHISK_CONTROLLER_INVOKERS": "\u00b2"}, "WHISK_CONTROLLER_INVOKERS must be"),
        ({"WHISK_CONTROLLER_INVOKERS": "1,1"}, "WHISK_CONTROLLER_INVOKERS lists an instance"),
        ({"WHISK_CONTROLLER_BLOCKING_WAIT_S": "0"}, "WHISK_CONTROLLER_BLOCKING_WAIT_S must be"),
        ({"WHISK_CONTROLLER_BLOCKING_WAIT_S": "-1"}, "WHISK_CONTROLLER_BLOCKING_WAIT_S must be"),
        ({"WHISK_CONTROLLER_BLOCKING_WAIT_S": "soon"}, "WHISK_CONTROLLER_BLOCKING_WAIT_S must"),
        ({"WHISK_CONTROLLER_BLOCKING_WAIT_S": "nan"}, "WHISK_CONTROLLER_BLOCKING_WAIT_S must be"),
        ({"WHISK_CONTROLLER_BLOCKING_WAIT_S": "inf"}, "WHISK_CONTROLLER_BLOCKING_WAIT_S must be"),
        ({"WHISK_CONTROLLER_INVOCATIONS_PER_MINUTE": "-1"}, "INVOCATIONS_PER_MINUTE must be"),
        ({"WHISK_CONTROLLER_INVOCATIONS_PER_MINUTE": "1.5"}, "INVOCATIONS_PER_MINUTE must be"),
        ({"WHISK_CONTROLLER_CONCURRENT_INVOCATIONS": "many"}, "CONCURRENT_INVOCATIONS must be"),
        ({"WHISK_CONTROLLER_FIRES_PER_MINUTE": ""}, "WHISK_CONTROLLER_FIRES_PER_MINUTE must be"),
    ],
)
def test_bad_settings_name_the_variable(change: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ControllerSettings.from_env({**VALID, **change})


def test_the_daemon_exits_at_once_saying_what_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISK_CONTROLLER_")}
    result = subprocess.run(
        [sys.executable, "-m", "whisk_services.controller.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "WHISK_CONTROLLER_COUCHDB_URL must be set" in result.stderr


def test_ack_grace_and_health_cycle_default_to_openwhisks_minute() -> None:
    settings = ControllerSettings.from_env(VALID)
    assert (settings.ack_timeout_s, settings.health_cycle_s) == (60.0, 60.0)
    quick = ControllerSettings.from_env(
        {**VALID, "WHISK_CONTROLLER_ACK_TIMEOUT_S": "3", "WHISK_CONTROLLER_HEALTH_CYCLE_S": "2.5"}
    )
    assert (quick.ack_timeout_s, quick.health_cycle_s) == (3.0, 2.5)


def test_the_drain_time_defaults_to_ten_seconds() -> None:
    assert ControllerSettings.from_env(VALID).drain_s == 10.0
    quick = ControllerSettings.from_env({**VALID, "WHISK_CONTROLLER_DRAIN_S": "0.5"})
    assert quick.drain_s == 0.5


@pytest.mark.parametrize(
    "name",
    [
        "WHISK_CONTROLLER_ACK_TIMEOUT_S",
        "WHISK_CONTROLLER_HEALTH_CYCLE_S",
        "WHISK_CONTROLLER_DRAIN_S",
    ],
)
@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_bad_ack_grace_or_health_cycle_or_drain_is_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        ControllerSettings.from_env({**VALID, name: value})
