"""Running `wsk` as a process in tests: its own properties file and home, its exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The Go client's exit codes: an HTTP status minus 256; 3 when the host cannot be reached.
EXIT_BAD_REQUEST, EXIT_UNAUTHORIZED, EXIT_FORBIDDEN = 400 - 256, 401 - 256, 403 - 256
EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_UNAVAILABLE = 404 - 256, 409 - 256, 503 - 256
EXIT_NETWORK, EXIT_USAGE = 3, 2
ERROR_LINE = re.compile(r"error: (?P<message>.*) \(code (?P<code>[0-9A-Za-z-]+)\)")


def wsk_command() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("wsk")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "whisk_services.cli.wsk.main"]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class Wsk:
    """`wsk` with one properties file; the home directory is a temporary one too."""

    def __init__(self, props: Path, key: str = "") -> None:
        self.props = props
        self.key = key  # the subject's `uuid:key`, when made by `configure`
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("WSK_")},
            "WSK_CONFIG_FILE": str(props),
            "HOME": str(props.parent),
        }

    def __call__(self, *args: str) -> Result:
        done = subprocess.run(
            [*wsk_command(), *args],
            env=self.env,
            cwd=self.props.parent,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> list[str]:
        """Run a command that must succeed and say nothing on stderr; its stdout lines."""
        result = self(*args)
        assert result.code == 0, result
        assert result.err == "", result
        return result.lines

    def json(self, *args: str, header: str) -> Any:
        """Run a command whose output is an `ok:` line and a JSON document."""
        first, *rest = self.ok(*args)
        assert first == header
        return json.loads("\n".join(rest))


def assert_fails(result: Result, exit_code: int, message: str) -> None:
    """Non-zero exit, nothing on stdout, and `error: <message> (code <id>)` on stderr."""
    assert result.code == exit_code, result
    assert result.out == "", result
    match = ERROR_LINE.fullmatch(result.err.rstrip("\n"))
    assert match is not None, result.err
    assert match["message"] == message
