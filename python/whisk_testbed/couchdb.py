"""The CouchDB-API server (PouchDB Server, patched at staging), on a loopback port.

It starts in "admin party" and the first thing ``start`` does is create an admin, as a
deployment does, so tests run against a server that requires authentication.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from whisk_testbed.artifacts import find_artifact
from whisk_testbed.network import LOOPBACK, free_port
from whisk_testbed.server import LoopbackServer


class CouchDBServer(LoopbackServer):
    """PouchDB Server with leveldb storage under ``workdir`` and one admin account."""

    name = "pouchdb-server"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.admin_user = "whisk_admin"
        self.admin_password = secrets.token_urlsafe(18)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def admin_auth(self) -> tuple[str, str]:
        return (self.admin_user, self.admin_password)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=1) as response:  # noqa: S310
                return response.status == 200  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return False

    def _create_admin(self) -> None:
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}/_config/admins/{self.admin_user}",
            data=json.dumps(self.admin_password).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            if response.status != 200:
                raise RuntimeError(f"creating the CouchDB admin answered {response.status}")

    def start(self, deadline_s: float = 60.0) -> None:
        home = find_artifact("pouchdb-server").path
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = data / "config.json"
        if not config.exists():
            # PouchDB Server writes its own request log to ./log.txt unless told otherwise.
            log = self.workdir / "pouchdb-server-requests.log"
            config.write_text(json.dumps({"log": {"file": str(log)}}))
        command = [
            str(home / "bin" / "pouchdb-server"),
            *("-o", LOOPBACK, "-p", str(self.port), "-d", str(data), "-c", str(config)),
            "-n",
            "--no-color",
        ]
        self._run(command, deadline_s, cwd=data)
        self._create_admin()
