"""The project's own controller (`whisk-controller`), run as a process against a test bed's
CouchDB-API server, with subjects created by `wskadmin` as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.network import LOOPBACK, free_port
from whisk_testbed.server import LoopbackServer

# The invoke path is the test's choice alone, never the environment's.
_SET_HERE_ONLY = frozenset(
    {
        "WHISK_CONTROLLER_KAFKA_HOSTS",
        "WHISK_CONTROLLER_INVOKERS",
        "WHISK_CONTROLLER_INSTANCE",
        "WHISK_CONTROLLER_CONSUL_URL",
    }
)


UNTHROTTLED = 1_000_000


class ControllerProcess(LoopbackServer):
    """`python -m whisk_services.controller.main` on a free loopback port."""

    name = "controller"
    # SIGTERM first lets the requests in progress finish for up to WHISK_CONTROLLER_DRAIN_S
    # (10 s), then answers them: a 10 s grace could kill it mid-drain.
    stop_grace_s = 30.0

    def __init__(
        self,
        workdir: Path,
        couchdb: CouchDBServer,
        db_prefix: str = "test_",
        *,
        kafka_hosts: str | None = None,
        invokers: Sequence[int] | None = None,
        instance: int | None = None,
        throttled: bool = False,
        consul_url: str | None = None,
    ) -> None:
        """Without ``kafka_hosts`` the controller has no invoke path (invokes answer 503);
        ``invokers`` are the invoker instances it sends to (default: invoker 0);
        ``instance`` is the controller's number (default 0), naming its `completed<M>`;
        with ``consul_url`` it discovers its invokers in that Consul agent instead.

        Unless ``throttled``, the system-wide throttle defaults are lifted (tests and
        benchmarks invoke far more than 60 times a minute); a namespace's own limits, set
        with `wskadmin limits`, still apply, which is how throttles are tested."""
        super().__init__(workdir)
        self.port = free_port()
        user, password = couchdb.admin_auth
        inherited = {k: v for k, v in os.environ.items() if k not in _SET_HERE_ONLY}
        self.env = {
            **inherited,
            "WHISK_CONTROLLER_HOST": LOOPBACK,
            "WHISK_CONTROLLER_PORT": str(self.port),
            "WHISK_CONTROLLER_COUCHDB_URL": couchdb.url,
            "WHISK_CONTROLLER_COUCHDB_USER": user,
            "WHISK_CONTROLLER_COUCHDB_PASSWORD": password,
            "WHISK_CONTROLLER_DB_PREFIX": db_prefix,
        }
        if not throttled:
            for limit in ("INVOCATIONS_PER_MINUTE", "CONCURRENT_INVOCATIONS", "FIRES_PER_MINUTE"):
                self.env[f"WHISK_CONTROLLER_{limit}"] = str(UNTHROTTLED)
        if kafka_hosts is not None:
            self.env["WHISK_CONTROLLER_KAFKA_HOSTS"] = kafka_hosts
        if invokers is not None:
            self.env["WHISK_CONTROLLER_INVOKERS"] = ",".join(str(n) for n in invokers)
        if instance is not None:
            self.env["WHISK_CONTROLLER_INSTANCE"] = str(instance)
        if consul_url is not None:
            self.env["WHISK_CONTROLLER_CONSUL_URL"] = consul_url

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1", timeout=1) as response:  # noqa: S310
                return bool(json.loads(response.read()).get("api_version"))
        except (OSError, ValueError):
            return False

    def start(self, deadline_s: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._run(
            [sys.executable, "-m", "whisk_services.controller.main"], deadline_s, env=self.env
        )

    def wskadmin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `wskadmin` against the same databases."""
        return subprocess.run(
            [sys.executable, "-m", "whisk_services.cli.wskadmin", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def create_subject(self, subject: str, namespace: str | None = None) -> str:
        """Create a subject and return its `uuid:key`."""
        extra = ["--namespace", namespace] if namespace else []
        result = self.wskadmin("user", "create", subject, *extra)
        if result.returncode != 0:
            raise RuntimeError(f"wskadmin user create {subject} failed: {result.stderr}")
        return result.stdout.strip()
