"""What every test-bed server shares: a work directory, one supervised process and its log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from whisk_testbed.process import ServerProcess


class LoopbackServer:
    """Base of the test-bed servers: subclasses say how to start and when they are ready.

    ``name`` names the process and its log file, ``<workdir>/<name>.log``.
    """

    name = "server"
    stop_grace_s = 10.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: ServerProcess | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def ready(self) -> bool:
        """True once the server answers its clients."""
        raise NotImplementedError

    def start(self, deadline_s: float = 60.0) -> None:
        """Write the configuration, start the process, return once it is ready."""
        raise NotImplementedError

    def _run(
        self,
        command: Sequence[str],
        deadline_s: float,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Start ``command`` under supervision and return once ``ready()`` holds."""
        self.process = ServerProcess(self.name, command, self.log_path, cwd=cwd, env=env)
        self.process.start(self.ready, deadline_s)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace_s=self.stop_grace_s)
