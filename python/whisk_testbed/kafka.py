"""An Apache Kafka broker in ZooKeeper mode, from the staged artifact, on a loopback port."""

from __future__ import annotations

from pathlib import Path

from whisk_testbed.artifacts import find_artifact
from whisk_testbed.network import LOOPBACK, free_port, port_answers
from whisk_testbed.server import LoopbackServer

STARTED_MARK = "started (kafka.server.KafkaServer)"


class KafkaBroker(LoopbackServer):
    """One broker (id ``broker_id``) using the ZooKeeper at ``zookeeper_connect``."""

    name = "kafka"
    stop_grace_s = 20.0

    def __init__(
        self,
        workdir: Path,
        zookeeper_connect: str,
        *,
        broker_id: int = 0,
        port: int | None = None,
        heap: str = "-Xmx384m -Xms128m",
    ) -> None:
        super().__init__(workdir)
        self.zookeeper_connect = zookeeper_connect
        self.broker_id = broker_id
        self.port = port or free_port()
        self.heap = heap

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def _write_config(self) -> Path:
        logs = self.workdir / "data"
        logs.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "server.properties"
        config.write_text(
            f"broker.id={self.broker_id}\n"
            f"listeners=PLAINTEXT://{LOOPBACK}:{self.port}\n"
            f"advertised.listeners=PLAINTEXT://{LOOPBACK}:{self.port}\n"
            f"log.dirs={logs}\n"
            f"zookeeper.connect={self.zookeeper_connect}\n"
            "zookeeper.connection.timeout.ms=30000\n"
            "num.partitions=1\n"
            "offsets.topic.replication.factor=1\n"
            "offsets.topic.num.partitions=4\n"
            "transaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\n"
            "group.initial.rebalance.delay.ms=0\n"
            "auto.create.topics.enable=false\n"
        )
        return config

    def ready(self) -> bool:
        if not port_answers(self.port):
            return False
        try:
            return STARTED_MARK in self.log_path.read_text(errors="replace")
        except OSError:
            return False

    def start(self, deadline_s: float = 90.0) -> None:
        home = find_artifact("kafka").path
        config = self._write_config()
        log4j = home / "config" / "log4j.properties"
        command = [
            "java",
            *self.heap.split(),
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.workdir}",
        ]
        if log4j.exists():
            command.append(f"-Dlog4j.configuration=file:{log4j}")
        command += ["-cp", f"{home}/libs/*", "kafka.Kafka", str(config)]
        self._run(command, deadline_s)
