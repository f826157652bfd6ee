"""A server process started in its own session, with its output kept in a log file.

``ServerProcess`` starts a command, waits until a readiness probe passes (failing with the
log's tail when the process exits or the deadline passes), and stops the whole process
group: SIGTERM first, SIGKILL if it lingers. Every server of the test bed is one of these.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: ask the kernel to SIGKILL it when its parent dies.

    A test run that is killed (a timeout, a Ctrl-C twice) must not leave brokers behind.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ServerStartError(RuntimeError):
    """A server exited or did not become ready in time; the message carries its log tail."""


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file, or a note that it is missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


class ServerProcess:
    """One long-running server process and its log file."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(os.environ if env is None else env)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._process.pid

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, ready: Callable[[], bool], deadline_s: float) -> None:
        """Start the process and return once ``ready()`` is true."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"--- starting {' '.join(self.command)}\n".encode())
        self._log.flush()
        self._process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if not self.running():
                code = self._process.returncode
                self.stop()
                raise ServerStartError(
                    f"{self.name} exited with {code} while starting; log {self.log_path}:\n"
                    f"{tail(self.log_path)}"
                )
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(
            f"{self.name} was not ready within {deadline_s:.0f} s; log {self.log_path}:\n"
            f"{tail(self.log_path)}"
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after ``grace_s`` seconds."""
        process = self._process
        if process is not None and process.poll() is None:
            self._signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=grace_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crash would."""
        if self._process is not None and self._process.poll() is None:
            self._signal_group(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
