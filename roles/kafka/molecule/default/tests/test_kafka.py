"""What a user of the kafka role sees on one box: a broker from the staged artifact, running
under the role's hardened unit as the kafka user, listening on the host's cluster address
only, registered in the box's ZooKeeper, and serving a topic end to end with Kafka's own
command-line tools."""

from __future__ import annotations

import uuid

import pytest
from hostchecks import (
    SANDBOXED,
    assert_not_on_loopback_or_every_address,
    assert_unit_properties,
    assert_unit_runs,
    command_output,
    default_address,
)
from testinfra.host import Host

HOME = "/opt/kafka/3.9.1"
ZOOKEEPER_CLIENT = (
    "java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn "
    "-cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar "
    "org.apache.zookeeper.ZooKeeperMain"
)


@pytest.fixture(scope="module")
def address(host: Host) -> str:
    """The host's cluster address as the role computes it (no whisk_address in molecule)."""
    return default_address(host)


@pytest.fixture(scope="module")
def bootstrap(address: str) -> str:
    return f"{address}:9092"


def tool(host: Host, command: str, *args: str) -> str:
    """Run one of the artifact's command-line tools; its standard output."""
    return command_output(host, f"{HOME}/bin/{command}", *args)


def test_service_running_and_enabled(host: Host) -> None:
    assert_unit_runs(host, "kafka")


def test_unit(host: Host) -> None:
    expected = {
        **SANDBOXED,
        "FragmentPath": "/etc/systemd/system/kafka.service",
        "User": "kafka",
        "Restart": "on-failure",
        "ReadWritePaths": "/var/lib/kafka",
        "CapabilityBoundingSet": "",  # no capability at all
    }
    assert_unit_properties(host, "kafka", expected)


def test_broker_runs_as_kafka_with_the_configured_heap(host: Host) -> None:
    pid = host.service("kafka").systemd_properties["MainPID"]
    assert host.file(f"/proc/{pid}").user == "kafka"
    command_line = host.file(f"/proc/{pid}/cmdline").content_string.split("\0")
    assert "-Xmx512m" in command_line
    assert "kafka.Kafka" in command_line


def test_broker_listens_on_the_cluster_address_only(host: Host, address: str) -> None:
    """Beside ZooKeeper's client port, the box listens on the broker's listener only: no
    other address for 9092, and no other port (JMX, a second listener) from the broker."""
    sockets = host.socket.get_listening_sockets()
    listening = {socket for socket in sockets if socket.startswith(("tcp://", "tcp6://"))}
    assert listening - {f"tcp://{address}:2181"} == {f"tcp://{address}:9092"}


def test_broker_not_on_loopback_or_every_address(host: Host) -> None:
    assert_not_on_loopback_or_every_address(host, 9092)


def test_broker_registered_in_zookeeper(host: Host, address: str) -> None:
    result = host.run(f"{ZOOKEEPER_CLIENT} -server %s:2181 get /brokers/ids/0", address)
    assert result.rc == 0, result.stderr
    assert f'"PLAINTEXT://{address}:9092"' in result.stdout


@pytest.mark.parametrize(
    ("path", "user", "group", "mode"),
    [
        ("/etc/kafka/server.properties", "root", "kafka", 0o640),
        ("/var/lib/kafka", "kafka", "kafka", 0o750),
        (HOME, "root", "root", 0o755),
        (f"{HOME}/libs", "root", "root", 0o755),
        (f"{HOME}/libs/kafka_2.13-3.9.1.jar", "root", "root", 0o644),
    ],
)
def test_files(host: Host, path: str, user: str, group: str, mode: int) -> None:
    """The broker writes its data directory only; its jars and settings belong to root."""
    file = host.file(path)
    assert (file.user, file.group, file.mode) == (user, group, mode)


@pytest.fixture(scope="module")
def broker_settings(host: Host, bootstrap: str) -> str:
    """Every setting of broker 0, as the running broker reports them."""
    return tool(
        host,
        "kafka-configs",
        "--bootstrap-server",
        bootstrap,
        "--describe",
        "--all",
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("auto.create.topics.enable", "false"),
        ("default.replication.factor", "1"),
        ("offsets.topic.replication.factor", "1"),
        ("min.insync.replicas", "1"),
        ("log.dirs", "/var/lib/kafka"),
    ],
)
def test_broker_settings(broker_settings: str, name: str, value: str) -> None:
    """One broker: nothing to replicate to; topics come from the admin API only."""
    assert f" {name}={value} " in broker_settings


def test_topic_round_trip(host: Host, bootstrap: str) -> None:
    """A topic is created, takes a message with acks=all and gives it back."""
    topic = f"molecule-{uuid.uuid4().hex[:8]}"
    message = uuid.uuid4().hex
    tool(host, "kafka-topics", "--bootstrap-server", bootstrap, "--create", "--topic", topic)
    assert topic in tool(host, "kafka-topics", "--bootstrap-server", bootstrap, "--list")
    produced = host.run(
        f"printf '%%s\\n' %s | {HOME}/bin/kafka-console-producer --bootstrap-server %s "
        "--topic %s --producer-property acks=all",
        message,
        bootstrap,
        topic,
    )
    assert produced.rc == 0, produced.stderr
    consumed = tool(
        host,
        "kafka-console-consumer",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--partition",
        "0",
        "--offset",
        "earliest",
        "--max-messages",
        "1",
        "--timeout-ms",
        "30000",
    )
    assert consumed.strip() == message
