"""A Consul agent in dev mode (a single server), from the staged artifact, on loopback."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from whisk_testbed.artifacts import find_artifact
from whisk_testbed.network import LOOPBACK, free_port
from whisk_testbed.server import LoopbackServer


class ConsulAgent(LoopbackServer):
    """``consul agent -dev`` with every port on 127.0.0.1; DNS, gRPC and WAN gossip off.

    The LAN gossip and server RPC ports cannot be turned off, so they get free ports too.
    """

    name = "consul"

    def __init__(self, workdir: Path, http_port: int | None = None) -> None:
        super().__init__(workdir)
        self.http_port = http_port or free_port()

    @property
    def http_address(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    def ready(self) -> bool:
        """True once the agent answers and a leader is elected."""
        try:
            url = f"{self.http_address}/v1/status/leader"
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                leader: str = json.loads(response.read())
                return bool(leader)
        except (OSError, ValueError):
            return False

    def start(self, deadline_s: float = 60.0) -> None:
        binary = find_artifact("consul").path / "bin" / "consul"
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            str(binary),
            "agent",
            "-dev",
            "-node=whisk-test",
            f"-bind={LOOPBACK}",
            f"-advertise={LOOPBACK}",
            f"-client={LOOPBACK}",
            f"-http-port={self.http_port}",
            "-dns-port=-1",
            "-grpc-port=-1",
            "-grpc-tls-port=-1",
            f"-serf-lan-port={free_port()}",
            "-serf-wan-port=-1",
            f"-server-port={free_port()}",
            "-disable-host-node-id",
            "-hcl=disable_update_check = true",
            "-log-level=info",
        ]
        self._run(command, deadline_s)
