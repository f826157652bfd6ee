"""whisk-invoker reads its settings from the environment and fails fast on a bad one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from whisk_services.settings import InvokerSettings, PrewarmSetting, SettingsError

VALID = {
    "WHISK_INVOKER_KAFKA_HOSTS": "127.0.0.1:9092",
    "WHISK_INVOKER_COUCHDB_URL": "http://127.0.0.1:5984",
    "WHISK_INVOKER_COUCHDB_USER": "admin",
    "WHISK_INVOKER_COUCHDB_PASSWORD": "secret",
}


def test_defaults() -> None:
    settings = InvokerSettings.from_env(VALID)
    assert (settings.instance, settings.unique_name) == (0, "invoker0")
    assert settings.user_memory_mb == 2048
    assert (settings.pause_grace_s, settings.idle_timeout_s) == (10.0, 600.0)
    assert settings.prewarm == (
        PrewarmSetting("python:3.11", 256, 2),
        PrewarmSetting("nodejs:18", 256, 1),
    )
    assert settings.runtime_images == {
        "python:3.11": "whisk/action-python:3.11",
        "nodejs:18": "whisk/action-nodejs:18",
    }
    assert (settings.network, settings.network_subnet, settings.network_bridge) == (
        "whisk-actions",
        "172.31.250.0/24",
        "whiskact0",
    )
    assert settings.action_egress is False
    assert settings.couchdb.db_prefix == "whisk_local_"


def test_overrides() -> None:
    settings = InvokerSettings.from_env(
        {
            **VALID,
            "WHISK_INVOKER_INSTANCE": "3",
            "WHISK_INVOKER_USER_MEMORY_MB": "512",
            "WHISK_INVOKER_PAUSE_GRACE_S": "0.5",
            "WHISK_INVOKER_PREWARM": "nodejs:18@128=3",
            "WHISK_INVOKER_RUNTIME_IMAGES": "nodejs:18=mine/node:1",
            "WHISK_INVOKER_ACTION_EGRESS": "TRUE",
            "WHISK_INVOKER_LOG_LEVEL": "debug",
        }
    )
    assert (settings.instance, settings.unique_name, settings.user_memory_mb) == (
        3,
        "invoker3",
        512,
    )
    assert settings.pause_grace_s == 0.5
    assert settings.prewarm == (PrewarmSetting("nodejs:18", 128, 3),)
    assert settings.runtime_images == {"nodejs:18": "mine/node:1"}
    assert settings.action_egress is True
    assert settings.log_level == "DEBUG"
    assert InvokerSettings.from_env({**VALID, "WHISK_INVOKER_PREWARM": ""}).prewarm == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WHISK_INVOKER_KAFKA_HOSTS": ""}, "WHISK_INVOKER_KAFKA_HOSTS must be set"),
        ({"WHISK_INVOKER_COUCHDB_URL": "ftp://x"}, "WHISK_INVOKER_COUCHDB_URL must be"),
        ({"WHISK_INVOKER_INSTANCE": "-1"}, "WHISK_INVOKER_INSTANCE must be a number"),
        ({"WHISK_INVOKER_USER_MEMORY_MB": "64"}, "USER_MEMORY_MB must be >= 128"),
        ({"WHISK_INVOKER_USER_MEMORY_MB": "lots"}, "USER_MEMORY_MB must be a number"),
        ({"WHISK_INVOKER_PAUSE_GRACE_S": "-1"}, "PAUSE_GRACE_S must be >= 0"),
        ({"WHISK_INVOKER_PREWARM": "python:3.11=2"}, "KIND@MEMORY_MB=COUNT"),
        ({"WHISK_INVOKER_PREWARM": "python:3.11@x=2"}, "KIND@MEMORY_MB=COUNT"),
        ({"WHISK_INVOKER_RUNTIME_IMAGES": "python:3.11"}, "KEY=VALUE"),
        ({"WHISK_INVOKER_ACTION_EGRESS": "yes"}, "ACTION_EGRESS must be true or false"),
        ({"WHISK_INVOKER_LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
    ],
)
def test_bad_settings_are_named(change: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        InvokerSettings.from_env({**VALID, **change})


def test_the_daemon_stops_at_once_naming_the_setting() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISK_")}
    done = subprocess.run(
        [sys.executable, "-m", "whisk_services.invoker.main"],
        env={**env, **VALID, "WHISK_INVOKER_KAFKA_HOSTS": ""},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "whisk-invoker: WHISK_INVOKER_KAFKA_HOSTS must be set"
