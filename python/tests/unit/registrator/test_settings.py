"""`whisk-registrator` settings from the environment."""

from __future__ import annotations

import socket

import pytest

from whisk_services.settings import RegistratorSettings, SettingsError

ACL = "an-acl-value"


def test_defaults() -> None:
    settings = RegistratorSettings.from_env({})
    assert settings == RegistratorSettings(
        consul_url="http://127.0.0.1:8500",
        consul_token=None,
        host_ip="127.0.0.1",
        hostname=socket.gethostname(),
        resync_s=30.0,
        log_level="INFO",
    )


def test_every_variable() -> None:
    settings = RegistratorSettings.from_env(
        {
            "WHISK_REGISTRATOR_CONSUL_URL": "https://consul.local:8501/",
            "WHISK_REGISTRATOR_CONSUL_TOKEN": ACL,
            "WHISK_REGISTRATOR_HOST_IP": "10.0.0.5",
            "WHISK_REGISTRATOR_HOSTNAME": "node1",
            "WHISK_REGISTRATOR_RESYNC_S": "5",
            "WHISK_REGISTRATOR_LOG_LEVEL": "debug",
        }
    )
    assert settings == RegistratorSettings(
        consul_url="https://consul.local:8501",
        consul_token=ACL,
        host_ip="10.0.0.5",
        hostname="node1",
        resync_s=5.0,
        log_level="DEBUG",
    )


def test_an_empty_token_or_hostname_is_the_default() -> None:
    settings = RegistratorSettings.from_env(
        {"WHISK_REGISTRATOR_CONSUL_TOKEN": "", "WHISK_REGISTRATOR_HOSTNAME": ""}
    )
    assert settings.consul_token is None
    assert settings.hostname == socket.gethostname()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSUL_URL", "consul:8500"),
        ("CONSUL_URL", "ftp://x"),
        ("HOST_IP", "localhost"),
        ("HOST_IP", "10.0.0"),
        ("HOSTNAME", "a:b"),
        ("HOSTNAME", "a b"),
        ("RESYNC_S", "0"),
        ("RESYNC_S", "soon"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_values_fail_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"WHISK_REGISTRATOR_{name}"):
        RegistratorSettings.from_env({f"WHISK_REGISTRATOR_{name}": value})


def test_an_ipv6_host_ip() -> None:
    assert RegistratorSettings.from_env({"WHISK_REGISTRATOR_HOST_IP": "::1"}).host_ip == "::1"
