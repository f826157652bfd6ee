"""A standalone ZooKeeper server from Debian's `zookeeper` package, on a loopback port."""

from __future__ import annotations

import socket
from pathlib import Path

from whisk_testbed.network import LOOPBACK, free_port
from whisk_testbed.server import LoopbackServer

DEBIAN_JARS = (Path("/usr/share/java/zookeeper.jar"), Path("/usr/share/java/slf4j-simple.jar"))
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


def four_letter_word(port: int, word: str, host: str = LOOPBACK) -> str:
    """Send one of ZooKeeper's four-letter commands and return its answer."""
    with socket.create_connection((host, port), timeout=2) as conn:
        conn.sendall(word.encode())
        chunks = []
        while chunk := conn.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


class ZooKeeperServer(LoopbackServer):
    """ZooKeeper in standalone mode, its data and log under ``workdir``."""

    name = "zookeeper"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()

    @property
    def connect_string(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def _write_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "zoo.cfg"
        config.write_text(
            "tickTime=500\n"
            "initLimit=10\n"
            "syncLimit=5\n"
            f"dataDir={data}\n"
            f"clientPort={self.port}\n"
            f"clientPortAddress={LOOPBACK}\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,srvr,stat\n"
        )
        return config

    def ready(self) -> bool:
        try:
            return four_letter_word(self.port, "ruok") == "imok"
        except OSError:
            return False

    def start(self, deadline_s: float = 60.0) -> None:
        missing = [str(jar) for jar in DEBIAN_JARS if not jar.exists()]
        if missing:
            raise FileNotFoundError(
                f"ZooKeeper jars missing ({', '.join(missing)}): run scripts/prereqs.sh"
            )
        config = self._write_config()
        classpath = ":".join(str(jar) for jar in DEBIAN_JARS)
        self._run(["java", "-Xmx128m", "-cp", classpath, MAIN_CLASS, str(config)], deadline_s)
