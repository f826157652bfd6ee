"""How each daemon starts and stops: settings first (a bad one stops it at once, exit 2,
naming the variable), logging to stdout, then ``serve(settings, stop)`` until SIGTERM or
SIGINT sets ``stop``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar


class DaemonSettings(Protocol):
    """What every daemon's settings offer."""

    @property
    def log_level(self) -> str: ...


S = TypeVar("S", bound=DaemonSettings)


def run_daemon(
    name: str,
    load: Callable[[], S],
    serve: Callable[[S, asyncio.Event], Awaitable[None]],
    setting_errors: tuple[type[Exception], ...],
) -> int:
    """Load the settings, configure logging, serve until a signal; the exit status.

    An exception of ``setting_errors`` raised by ``load`` is printed as
    ``<name>: <message>`` and gives status 2.
    """
    try:
        settings = load()
    except setting_errors as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stdout,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
