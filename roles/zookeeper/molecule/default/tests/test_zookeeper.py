"""What a user of the zookeeper role sees on a standalone server: Debian's ZooKeeper running
under the role's hardened unit as the zookeeper user, answering its four-letter words on the
host's cluster address only, with the admin server off."""

from __future__ import annotations

import pytest
from hostchecks import (
    SANDBOXED,
    assert_not_on_loopback_or_every_address,
    assert_unit_properties,
    assert_unit_runs,
    command_output,
    default_address,
    listening,
)
from testinfra.host import Host

PROBE = (
    "import socket, sys; "
    "conn = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); "
    "conn.sendall(sys.argv[3].encode()); "
    "sys.stdout.write(conn.makefile('rb').read().decode(errors='replace'))"
)


@pytest.fixture(scope="module")
def address(host: Host) -> str:
    """The host's cluster address as the role computes it (no whisk_address in molecule)."""
    return default_address(host)


def four_letter_word(host: Host, address: str, word: str) -> str:
    """Send one four-letter word from the box and return the answer."""
    return command_output(host, "python3 -c", PROBE, address, "2181", word)


@pytest.mark.parametrize("package", ["libzookeeper-java", "default-jre-headless"])
def test_package_installed(host: Host, package: str) -> None:
    assert host.package(package).is_installed


@pytest.mark.parametrize("package", ["zookeeper", "zookeeperd", "default-jre"])
def test_package_not_installed(host: Host, package: str) -> None:
    """Neither Debian's init script (zookeeperd) nor the desktop JRE (`zookeeper` needs it)."""
    assert not host.package(package).is_installed


def test_service_running_and_enabled(host: Host) -> None:
    assert_unit_runs(host, "zookeeper")


def test_unit_is_the_roles_own(host: Host) -> None:
    """A native unit, not one systemd-sysv-generator made from an init script."""
    properties = host.service("zookeeper").systemd_properties
    assert properties["FragmentPath"] == "/etc/systemd/system/zookeeper.service"
    assert properties.get("SourcePath", "") == ""


def test_unit_hardening(host: Host) -> None:
    expected = {
        **SANDBOXED,
        "User": "zookeeper",
        "Restart": "on-failure",
        "CapabilityBoundingSet": "",  # no capability at all
    }
    assert_unit_properties(host, "zookeeper", expected)


def test_server_runs_as_zookeeper(host: Host) -> None:
    pid = host.service("zookeeper").systemd_properties["MainPID"]
    assert host.file(f"/proc/{pid}").user == "zookeeper"


def test_client_port_on_cluster_address_only(host: Host, address: str) -> None:
    assert host.socket(f"tcp://{address}:2181").is_listening
    assert_not_on_loopback_or_every_address(host, 2181)


@pytest.mark.parametrize("port", [8080, 2888, 3888])
def test_no_admin_server_nor_quorum_ports_when_standalone(host: Host, port: int) -> None:
    assert listening(host, port) == []


def test_ruok_answers_imok(host: Host, address: str) -> None:
    assert four_letter_word(host, address, "ruok") == "imok"


def test_srvr_reports_standalone(host: Host, address: str) -> None:
    assert "Mode: standalone" in four_letter_word(host, address, "srvr")


@pytest.mark.parametrize("word", ["conf", "dump", "envi"])
def test_words_outside_the_whitelist_are_refused(host: Host, address: str, word: str) -> None:
    assert "is not in the whitelist" in four_letter_word(host, address, word)


def test_myid(host: Host) -> None:
    myid = host.file("/var/lib/zookeeper/myid")
    assert myid.content_string.strip() == "1"
    assert myid.user == "root"
    assert myid.group == "zookeeper"


def test_data_directory(host: Host) -> None:
    data = host.file("/var/lib/zookeeper")
    assert data.user == "zookeeper"
    assert data.mode == 0o750
    assert host.file("/var/lib/zookeeper/version-2").is_directory


def test_a_client_reads_the_tree(host: Host, address: str) -> None:
    """ZooKeeper's own client, from Debian's jars, lists the root znode."""
    result = host.run(
        "java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp %s "
        "org.apache.zookeeper.ZooKeeperMain -server %s:2181 ls /",
        "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar",
        address,
    )
    assert result.rc == 0, result.stderr
    assert "[zookeeper]" in result.stdout
