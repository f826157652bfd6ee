"""Kafka's brokers: each runs hardened, listens on its cluster address only, is registered in
ZooKeeper, and the cluster serves a replicated topic end to end (created, written, read back).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from conftest import address
from hostchecks import assert_unit_hardened, assert_unit_runs, listeners

testinfra_hosts = ["ansible://kafkas"]


def test_kafka_runs_hardened_on_its_address_only(host: Any) -> None:
    variables = host.ansible.get_variables()
    assert_unit_runs(host, "kafka.service")
    assert_unit_hardened(host, "kafka.service")
    assert listeners(host, 9092) == {address(variables)}


def test_a_replicated_topic_carries_a_message(host: Any) -> None:
    variables = host.ansible.get_variables()
    server = f"{address(variables)}:9092"
    bin_dir = host.check_output("ls -d /opt/kafka/*/bin").splitlines()[-1]
    topic = f"infra-{secrets.token_hex(4)}"
    replicas = min(3, len(variables["groups"]["kafkas"]))
    host.check_output(
        f"{bin_dir}/kafka-topics --bootstrap-server {server} --create --topic {topic}"
        f" --partitions 1 --replication-factor {replicas}"
    )
    try:
        host.check_output(
            f"echo hello-{topic} | {bin_dir}/kafka-console-producer"
            f" --bootstrap-server {server} --topic {topic} --producer-property acks=all"
        )
        read = host.check_output(
            f"{bin_dir}/kafka-console-consumer --bootstrap-server {server} --topic {topic}"
            " --from-beginning --max-messages 1 --timeout-ms 20000"
        )
        assert read.strip() == f"hello-{topic}"
    finally:
        host.run(f"{bin_dir}/kafka-topics --bootstrap-server {server} --delete --topic {topic}")


def test_every_broker_is_registered_in_zookeeper(
    host: Any, hostvars: Callable[[str], dict[str, Any]]
) -> None:
    variables = host.ansible.get_variables()
    brokers = variables["groups"]["kafkas"]
    zookeeper = address(hostvars(variables["groups"]["zookeepers"][0]))
    bin_dir = host.check_output("ls -d /opt/kafka/*/bin").splitlines()[-1]
    listed = host.check_output(
        f"{bin_dir}/kafka-run-class org.apache.zookeeper.ZooKeeperMain"
        f" -server {zookeeper}:2181 ls /brokers/ids 2>/dev/null"
    )
    ids = listed.strip().splitlines()[-1]
    assert ids == "[" + ", ".join(str(n) for n in range(len(brokers))) + "]", listed
