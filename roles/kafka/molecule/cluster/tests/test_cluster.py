"""The three-node cluster after its side effect (ZooKeeper and Kafka stopped on the node that
led the ZooKeeper ensemble): the two survivors elect a ZooKeeper leader, and their brokers
still serve the topic replicated on all three before the failure, acks=all with
min.insync.replicas=2, and create new topics that fit on two brokers.

The tests look at the cluster as a whole, so they take no `host` fixture (each runs once) and
reach the boxes through molecule's inventory."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable

import pytest
import testinfra
from hostchecks import command_output
from testinfra.host import Host

NODES = [f"whisk-mol-kafka-cluster-{n}" for n in (1, 2, 3)]
# Fixed in molecule.yml; broker ids follow the order of groups['kafkas'].
ADDRESSES = {node: f"172.31.229.1{n}" for n, node in enumerate(NODES, start=1)}
BROKER_IDS = {node: n for n, node in enumerate(NODES)}
BOOTSTRAP = ",".join(f"{address}:9092" for address in ADDRESSES.values())
BIN = "/opt/kafka/3.9.1/bin"
TOPIC = "whisk-mol-replicated"  # side_effect.yml created it and put "before" on it
PROBE = (
    "import socket, sys; "
    "conn = socket.create_connection((sys.argv[1], 2181), timeout=5); "
    "conn.sendall(b'srvr'); "
    "sys.stdout.write(conn.makefile('rb').read().decode())"
)


def eventually(check: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    """Whether check() turns true within timeout_s (the survivors may still be settling)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(2)
    return True


@pytest.fixture(scope="module")
def nodes() -> dict[str, Host]:
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return {
        node: testinfra.get_host(f"ansible://{node}?ansible_inventory={inventory}")
        for node in NODES
    }


@pytest.fixture(scope="module")
def stopped(nodes: dict[str, Host]) -> str:
    """The node the side effect stopped: the one whose ZooKeeper is not running."""
    down = [node for node, host in nodes.items() if not host.service("zookeeper").is_running]
    assert len(down) == 1, f"expected one stopped node, found {down}"
    return down[0]


@pytest.fixture(scope="module")
def survivor(nodes: dict[str, Host], stopped: str) -> Host:
    """A surviving node, to run Kafka's tools on."""
    return next(host for node, host in nodes.items() if node != stopped)


def run(host: Host, command: str, *args: str) -> str:
    """One of Kafka's tools on the host; its standard output."""
    return command_output(host, f"{BIN}/{command}", *args)


def describe(host: Host, topic: str) -> dict[str, str]:
    """The partition line of a one-partition topic, as fields (Leader, Replicas, Isr, ...)."""
    output = run(
        host, "kafka-topics", "--bootstrap-server", BOOTSTRAP, "--describe", "--topic", topic
    )
    line = next(line for line in output.splitlines() if "Partition: 0" in line)
    return dict(re.findall(r"(\w+): (\S+)", line))


def test_only_the_stopped_node_is_down(nodes: dict[str, Host], stopped: str) -> None:
    states = {
        node: (host.service("zookeeper").is_running, host.service("kafka").is_running)
        for node, host in nodes.items()
    }
    assert states == {node: (node != stopped, node != stopped) for node in NODES}


def test_survivors_elect_a_zookeeper_leader(nodes: dict[str, Host], stopped: str) -> None:
    def modes() -> list[str]:
        found = []
        for node, host in nodes.items():
            if node != stopped:
                answer = host.run("python3 -c %s %s", PROBE, ADDRESSES[node]).stdout
                found += re.findall(r"Mode: (\w+)", answer)
        return sorted(found)

    assert eventually(lambda: modes() == ["follower", "leader"]), modes()


def test_replicated_topic_led_by_a_survivor(survivor: Host, stopped: str) -> None:
    """Three replicas, the stopped broker's out of the in-sync set, the leader a survivor."""
    survivors = {str(BROKER_IDS[node]) for node in NODES if node != stopped}

    def partition() -> dict[str, str]:
        return describe(survivor, TOPIC)

    assert eventually(lambda: set(partition()["Isr"].split(",")) == survivors), partition()
    fields = partition()
    assert len(fields["Replicas"].split(",")) == 3
    assert fields["Leader"] in survivors


def test_replicated_topic_keeps_and_takes_messages(survivor: Host) -> None:
    """The message acknowledged before the failure is there; a new one is acknowledged by
    both surviving replicas (acks=all, min.insync.replicas=2) and read back."""
    after = f"after-{uuid.uuid4().hex[:8]}"
    produced = survivor.run(
        f"printf '%%s\\n' %s | {BIN}/kafka-console-producer --bootstrap-server %s "
        "--topic %s --producer-property acks=all --producer-property delivery.timeout.ms=60000",
        after,
        BOOTSTRAP,
        TOPIC,
    )
    assert produced.rc == 0, produced.stderr
    assert "ERROR" not in produced.stderr, produced.stderr
    consumed = run(
        survivor,
        "kafka-console-consumer",
        "--bootstrap-server",
        BOOTSTRAP,
        "--topic",
        TOPIC,
        "--partition",
        "0",
        "--offset",
        "earliest",
        "--max-messages",
        "2",
        "--timeout-ms",
        "30000",
    )
    assert consumed.split() == ["before", after]


def test_new_topic_on_the_survivors(survivor: Host, stopped: str) -> None:
    """A topic replicated on the two survivors can be created and gets a leader."""
    topic = f"whisk-mol-new-{uuid.uuid4().hex[:8]}"
    run(
        survivor,
        "kafka-topics",
        "--bootstrap-server",
        BOOTSTRAP,
        "--create",
        "--topic",
        topic,
        "--replication-factor",
        "2",
    )
    fields = describe(survivor, topic)
    assert fields["Leader"] != str(BROKER_IDS[stopped])
    assert len(fields["Isr"].split(",")) == 2


def test_default_replication_needs_the_third_broker(survivor: Host) -> None:
    """A topic of the default replication factor (3) is refused while a broker is down: a
    client that creates its topics during an outage must ask for fewer replicas or wait."""
    result = survivor.run(
        f"{BIN}/kafka-topics --bootstrap-server %s --create --topic %s",
        BOOTSTRAP,
        f"whisk-mol-default-{uuid.uuid4().hex[:8]}",
    )
    assert result.rc != 0
    assert "InvalidReplicationFactorException" in result.stdout + result.stderr
