"""The project's own invoker (`whisk-invoker`), run as a process against a test bed's
Kafka broker, CouchDB-API server and Docker Engine, on an action network of its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.server import LoopbackServer

READY_MARK = "reading invoker"


class InvokerProcess(LoopbackServer):
    """`python -m whisk_services.invoker.main` as invoker ``instance``.

    ``unique_name`` labels its containers (``org.whisk.invoker``); ``network`` is
    ``(name, subnet, bridge)`` of the action network it creates; ``env`` adds or overrides
    settings (pause grace, prewarm, user memory...); with ``consul_url`` it registers in that
    Consul agent.
    """

    name = "invoker"
    stop_grace_s = 30.0

    def __init__(
        self,
        workdir: Path,
        couchdb: CouchDBServer,
        kafka_hosts: str,
        *,
        unique_name: str,
        network: tuple[str, str, str],
        db_prefix: str = "test_",
        instance: int = 0,
        env: Mapping[str, str] | None = None,
        consul_url: str | None = None,
    ) -> None:
        super().__init__(workdir)
        self.instance = instance
        self.unique_name = unique_name
        user, password = couchdb.admin_auth
        network_name, subnet, bridge = network
        inherited = {k: v for k, v in os.environ.items() if k != "WHISK_INVOKER_CONSUL_URL"}
        self.env = {
            **inherited,
            "WHISK_INVOKER_INSTANCE": str(instance),
            "WHISK_INVOKER_UNIQUE_NAME": unique_name,
            "WHISK_INVOKER_KAFKA_HOSTS": kafka_hosts,
            "WHISK_INVOKER_COUCHDB_URL": couchdb.url,
            "WHISK_INVOKER_COUCHDB_USER": user,
            "WHISK_INVOKER_COUCHDB_PASSWORD": password,
            "WHISK_INVOKER_DB_PREFIX": db_prefix,
            "WHISK_INVOKER_NETWORK": network_name,
            "WHISK_INVOKER_NETWORK_SUBNET": subnet,
            "WHISK_INVOKER_NETWORK_BRIDGE": bridge,
            **(env or {}),
        }
        if consul_url is not None:
            self.env["WHISK_INVOKER_CONSUL_URL"] = consul_url

    def ready(self) -> bool:
        try:
            return READY_MARK in self.log_path.read_text(errors="replace")
        except OSError:
            return False

    def start(self, deadline_s: float = 90.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._run([sys.executable, "-m", "whisk_services.invoker.main"], deadline_s, env=self.env)
