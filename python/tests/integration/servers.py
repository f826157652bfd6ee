"""The servers a test session started, so that a failing test's report can show their logs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from whisk_testbed.server import LoopbackServer

S = TypeVar("S", bound=LoopbackServer)
STARTED: list[LoopbackServer] = []


def serve(server: S) -> Iterator[S]:
    """Start ``server``, list its log for failure reports, yield it, stop it afterwards."""
    STARTED.append(server)
    server.start()
    yield server
    server.stop()
