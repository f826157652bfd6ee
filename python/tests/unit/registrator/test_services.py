"""The rules that turn a container's SERVICE_* declarations into registrations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.registrator.support import inspect
from whisk_services.ports.discovery import Check, Registration
from whisk_services.registrator.services import (
    OWNER_META,
    ContainerSpec,
    DeclarationError,
    Declared,
    PublishedPort,
    declared_services,
    owned,
    parse_duration,
    split_tags,
)

HOST = "node1"
IP = "10.0.0.5"


def declared(**kwargs: Any) -> Declared:
    return declared_services(
        ContainerSpec.from_inspect(inspect(**kwargs)), hostname=HOST, host_ip=IP
    )


def only(**kwargs: Any) -> Registration:
    (registration,) = declared(**kwargs).registrations
    return registration


def test_the_spec_reads_inspect_data() -> None:
    spec = ContainerSpec.from_inspect(
        inspect(
            "db.1",
            env={"SERVICE_NAME": "db", "EMPTY": ""},
            labels={"a": "b"},
            ports={"5432/tcp": 32768, "53/udp": 1053, "9000/tcp": None},
        )
    )
    assert spec.name == "db.1"
    assert spec.running
    assert spec.env["SERVICE_NAME"] == "db"
    assert spec.env["EMPTY"] == ""
    assert spec.labels == {"a": "b"}
    assert spec.ports == (PublishedPort(53, "udp", 1053), PublishedPort(5432, "tcp", 32768))


def test_the_first_binding_of_a_port_is_its_host_port() -> None:
    attrs = inspect(ports={"80/tcp": 8080})
    attrs["NetworkSettings"]["Ports"]["80/tcp"].append({"HostIp": "::", "HostPort": "8081"})
    assert ContainerSpec.from_inspect(attrs).ports == (PublishedPort(80, "tcp", 8080),)


def test_host_network_mode_publishes_the_exposed_ports() -> None:
    spec = ContainerSpec.from_inspect(
        inspect(network_mode="host", exposed=("8000/tcp",), env={"SERVICE_NAME": "web"})
    )
    assert spec.ports == (PublishedPort(8000, "tcp", 8000),)


def test_a_single_service_with_metadata() -> None:
    # Registrator's "Single service with metadata" example.
    registration = only(
        name="redis.0",
        ports={"6379/tcp": 10000},
        env={"SERVICE_NAME": "db", "SERVICE_TAGS": "master,backups", "SERVICE_REGION": "us2"},
    )
    assert registration == Registration(
        id="node1:redis.0:6379",
        name="db",
        address=IP,
        port=10000,
        tags=("master", "backups"),
        meta={"region": "us2", OWNER_META: HOST},
    )


def test_labels_declare_services_too() -> None:
    registration = only(
        name="redis.0",
        ports={"6379/tcp": 10000},
        labels={"SERVICE_NAME": "db", "SERVICE_TAGS": "master"},
    )
    assert (registration.name, registration.tags) == ("db", ("master",))


def test_the_environment_wins_over_labels() -> None:
    registration = only(
        ports={"80/tcp": 8080},
        labels={"SERVICE_NAME": "from-label", "SERVICE_ZONE": "a"},
        env={"SERVICE_NAME": "from-env"},
    )
    assert registration.name == "from-env"
    assert registration.meta["zone"] == "a"


def test_without_a_name_nothing_is_registered() -> None:
    # Our mode is Registrator's -explicit: no SERVICE_NAME, no service.
    assert declared(ports={"80/tcp": 8080}).registrations == ()
    assert declared(ports={"80/tcp": 8080}, env={"SERVICE_TAGS": "a"}).registrations == ()


def test_a_port_without_a_name_of_its_own_or_a_default_is_skipped() -> None:
    result = declared(ports={"80/tcp": 8000, "443/tcp": 4443}, env={"SERVICE_443_NAME": "https"})
    assert [r.name for r in result.registrations] == ["https"]
    assert any("port 80/tcp" in note for note in result.notes)


def test_several_ports_get_the_port_appended_to_a_shared_name() -> None:
    result = declared(
        name="nginx.0", ports={"80/tcp": 8000, "443/tcp": 4443}, env={"SERVICE_NAME": "nginx"}
    )
    assert {(r.id, r.name, r.port) for r in result.registrations} == {
        ("node1:nginx.0:80", "nginx-80", 8000),
        ("node1:nginx.0:443", "nginx-443", 4443),
    }


def test_port_specific_keys_win_and_stay_on_their_port() -> None:
    # Registrator's "Multiple services with metadata" example.
    result = declared(
        name="nginx.0",
        ports={"80/tcp": 8000, "443/tcp": 4443},
        env={
            "SERVICE_443_NAME": "https",
            "SERVICE_443_ID": "https.12345",
            "SERVICE_443_SNI": "enabled",
            "SERVICE_80_NAME": "http",
            "SERVICE_TAGS": "www",
        },
    )
    by_name = {r.name: r for r in result.registrations}
    assert by_name["https"].id == "https.12345"
    assert by_name["https"].port == 4443
    assert by_name["https"].meta == {"sni": "enabled", OWNER_META: HOST}
    assert by_name["http"].id == "node1:nginx.0:80"
    assert by_name["http"].meta == {OWNER_META: HOST}
    assert by_name["http"].tags == by_name["https"].tags == ("www",)


def test_a_port_specific_key_beats_the_general_one_on_its_port() -> None:
    result = declared(
        ports={"80/tcp": 8000, "81/tcp": 8001},
        env={"SERVICE_NAME": "web", "SERVICE_81_TAGS": "special", "SERVICE_TAGS": "plain"},
    )
    tags = {r.name: r.tags for r in result.registrations}
    assert tags == {"web-80": ("plain",), "web-81": ("special",)}


def test_udp_services_get_a_suffixed_id_and_a_tag() -> None:
    registration = only(name="dns.0", ports={"53/udp": 1053}, env={"SERVICE_NAME": "dns"})
    assert registration.id == "node1:dns.0:53:udp"
    assert registration.tags == ("udp",)


def test_service_id_overrides_the_id() -> None:
    assert only(ports={"80/tcp": 1}, env={"SERVICE_NAME": "a", "SERVICE_ID": "mine"}).id == "mine"


def test_service_ignore_skips_the_container() -> None:
    result = declared(ports={"80/tcp": 1}, env={"SERVICE_NAME": "a", "SERVICE_IGNORE": "true"})
    assert result.registrations == ()
    # As in Registrator, any non-empty value ignores.
    assert (
        declared(
            ports={"80/tcp": 1}, labels={"SERVICE_NAME": "a", "SERVICE_IGNORE": "false"}
        ).registrations
        == ()
    )


def test_service_port_ignore_skips_that_port() -> None:
    result = declared(
        ports={"80/tcp": 8000, "443/tcp": 4443},
        env={"SERVICE_NAME": "web", "SERVICE_80_IGNORE": "1"},
    )
    assert [r.name for r in result.registrations] == ["web-443"]


def test_action_containers_are_never_registered() -> None:
    result = declared(
        ports={"8080/tcp": 1},
        labels={"org.whisk.role": "action", "org.whisk.project": "whisk"},
        env={"SERVICE_NAME": "sneaky"},
    )
    assert result.registrations == ()
    assert result.notes == ("an action container: never registered",)


def test_stopped_containers_and_unpublished_ports_are_not_registered() -> None:
    assert (
        declared(ports={"80/tcp": 1}, env={"SERVICE_NAME": "a"}, running=False).registrations == ()
    )
    assert declared(ports={"80/tcp": None}, env={"SERVICE_NAME": "a"}).registrations == ()
    assert declared(env={"SERVICE_NAME": "a"}).notes == ("no published port",)


def test_an_http_check_polls_the_published_address() -> None:
    registration = only(
        ports={"8000/tcp": 32768},
        env={
            "SERVICE_NAME": "web",
            "SERVICE_CHECK_HTTP": "/health",
            "SERVICE_CHECK_INTERVAL": "1s",
        },
    )
    assert registration.check == Check(http="http://10.0.0.5:32768/health", interval_s=1.0)


def test_check_defaults_and_options() -> None:
    env = {
        "SERVICE_NAME": "web",
        "SERVICE_CHECK_HTTP": "ready",
        "SERVICE_CHECK_DEREGISTER_AFTER": "1m",
    }
    check = only(ports={"80/tcp": 8000}, env=env).check
    assert check == Check(
        http="http://10.0.0.5:8000/ready", interval_s=10.0, deregister_after_s=60.0
    )
    https = only(
        ports={"443/tcp": 4443}, env={"SERVICE_NAME": "s", "SERVICE_443_CHECK_HTTPS": "/"}
    ).check
    assert https is not None
    assert https.http == "https://10.0.0.5:4443/"


def test_an_ipv6_host_is_bracketed_in_the_check_url() -> None:
    spec = ContainerSpec.from_inspect(
        inspect(ports={"80/tcp": 8000}, env={"SERVICE_NAME": "w", "SERVICE_CHECK_HTTP": "/"})
    )
    (registration,) = declared_services(spec, hostname=HOST, host_ip="::1").registrations
    assert registration.check is not None
    assert registration.check.http == "http://[::1]:8000/"


def test_a_ttl_check_and_the_http_check_first() -> None:
    ttl = only(ports={"80/tcp": 1}, env={"SERVICE_NAME": "a", "SERVICE_CHECK_TTL": "30s"}).check
    assert ttl == Check(ttl_s=30.0)
    both = {"SERVICE_NAME": "a", "SERVICE_CHECK_TTL": "30s", "SERVICE_CHECK_HTTP": "/"}
    check = only(ports={"80/tcp": 1}, env=both).check
    assert check is not None
    assert (check.http, check.ttl_s) == ("http://10.0.0.5:1/", None)


def test_port_specific_checks_stay_on_their_port() -> None:
    result = declared(
        ports={"80/tcp": 8000, "81/tcp": 8001},
        env={"SERVICE_NAME": "web", "SERVICE_81_CHECK_HTTP": "/x"},
    )
    checks = {r.name: r.check for r in result.registrations}
    assert checks["web-80"] is None
    assert checks["web-81"] == Check(http="http://10.0.0.5:8001/x")


def test_unsupported_checks_are_noted_and_ignored() -> None:
    env = {"SERVICE_NAME": "a", "SERVICE_CHECK_TCP": "true", "SERVICE_CHECK_TIMEOUT": "1s"}
    result = declared(ports={"80/tcp": 1}, env=env)
    assert result.registrations[0].check is None
    assert any("SERVICE_CHECK_TCP is not supported" in note for note in result.notes)
    assert "check_tcp" not in result.registrations[0].meta


def test_a_malformed_duration_skips_the_service_with_a_note() -> None:
    result = declared(
        ports={"80/tcp": 1},
        env={"SERVICE_NAME": "a", "SERVICE_CHECK_HTTP": "/", "SERVICE_CHECK_INTERVAL": "often"},
    )
    assert result.registrations == ()
    assert "often" in result.notes[0]


def test_meta_keys_consul_refuses_are_dropped() -> None:
    labels = {
        "SERVICE_NAME": "a",
        "SERVICE_with.dot": "x",
        "SERVICE_CONSUL-X": "y",
        "SERVICE_OK": "z",
    }
    result = declared(ports={"80/tcp": 1}, labels=labels)
    assert result.registrations[0].meta == {"ok": "z", OWNER_META: HOST}
    assert len([n for n in result.notes if "dropped" in n]) == 2


def test_long_meta_values_are_dropped() -> None:
    env = {"SERVICE_NAME": "a", "SERVICE_BIG": "x" * 513}
    assert "big" not in only(ports={"80/tcp": 1}, env=env).meta


@pytest.mark.parametrize(
    ("raw", "tags"),
    [
        ("", ()),
        ("a,b", ("a", "b")),
        (" a , b ,", ("a", "b")),
        ("a,,a", ("a",)),
        (r"/(;\,:-_)/", ("/(;,:-_)/",)),
        (r"x\y", (r"x\y",)),
    ],
)
def test_split_tags(raw: str, tags: tuple[str, ...]) -> None:
    assert split_tags(raw) == tags


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("1s", 1.0), ("0", 0.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0), ("2us", 2e-6)],
)
def test_parse_duration(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["", "10", "s", "1x", "1s2", "-1s", "1 s"])
def test_parse_duration_refuses(raw: str) -> None:
    with pytest.raises(DeclarationError):
        parse_duration(raw)


def test_owned_by_mark_or_id_form() -> None:
    def reg(service_id: str, meta: dict[str, str] | None = None) -> Registration:
        return Registration(id=service_id, name="n", address=IP, port=1, meta=meta or {})

    assert owned(reg("node1:web.0:80"), HOST)
    assert owned(reg("node1:web.0:53:udp"), HOST)
    assert owned(reg("custom", {OWNER_META: HOST}), HOST)
    assert not owned(reg("node2:web.0:80"), HOST)
    assert not owned(reg("node1:invoker0"), HOST)
    assert not owned(reg("custom", {OWNER_META: "node2"}), HOST)
    assert not owned(reg("node10:web.0:80"), HOST)
