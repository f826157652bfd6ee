"""How a controller stops (SIGTERM, a rolling restart) without losing an activation.

1. It stops accepting requests: aiohttp's graceful shutdown closes the listening socket and
   the idle keep-alive connections, and a busy connection carries no request after the one
   in progress; then it calls the app's ``on_shutdown`` hooks.
2. ``Drain.on_shutdown`` gives the requests in progress (counted by its middleware), the
   blocking waits and the running sequences up to ``drain_s``
   (``WHISK_CONTROLLER_DRAIN_S``, 10 s) to finish, and stops waiting as soon as they did.
3. Then it ends every blocking wait still going (``Invocations.end_waits``), and any that
   a request still in progress starts later: each caller is answered 202 with
   ``{"activationId"}``, OpenWhisk's answer when a blocking wait ends first, never a 5xx
   or a dropped connection. The invoker runs the activation on and writes its record. A
   sequence whose wait ended writes its own record (a whisk internal error naming the
   component still running) and ends; sequences get ``SETTLE_S`` for it.
4. aiohttp gives the handlers ``ANSWER_S`` (the runner's ``shutdown_timeout``) to send
   those answers, then closes the connections. ``stop_serving`` then cancels the sequences
   left, each still writing its record (``sequences.cancel_all``); the controller closes the
   ack tracker last, which writes the records it owes for forced acks or names them in a
   log line (``acks.AckTracker.close``).

So every request accepted before the stop is answered, and every activation id handed out
gets its record: from its invoker, or from this controller (a sequence, a forced ack).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from whisk_services.controller.context import Services
from whisk_services.controller.middleware import Handler
from whisk_services.controller.sequences import cancel_all

log = logging.getLogger("whisk.controller.shutdown")

DEFAULT_DRAIN_S = 10.0
ANSWER_S = 5.0  # for the handlers to answer once the waits ended (aiohttp then cancels them)
SETTLE_S = 2.0  # for the sequences whose waits ended to write their records
POLL_S = 0.02


class Drain:
    """The requests in progress, and the wait for them (and the sequences) at shutdown."""

    def __init__(
        self,
        services: Services,
        drain_s: float = DEFAULT_DRAIN_S,
        *,
        settle_s: float = SETTLE_S,
    ) -> None:
        self.services = services
        self.drain_s = drain_s
        self.settle_s = settle_s
        self.requests = 0  # in progress
        self.ended = 0  # blocking waits ended by the last drain

    def install(self, app: web.Application) -> None:
        """Count ``app``'s requests (outermost middleware) and drain at its shutdown."""

        @web.middleware
        async def counting(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.requests += 1
            try:
                return await handler(request)
            finally:
                self.requests -= 1

        app.middlewares.insert(0, counting)
        app.on_shutdown.append(self.on_shutdown)

    def idle(self) -> bool:
        """No request in progress, no sequence running."""
        return self.requests == 0 and not self.services.background

    async def on_shutdown(self, _app: web.Application) -> None:
        await self.drain()

    async def drain(self) -> None:
        """Wait up to ``drain_s`` for the work in progress, then end the waits left."""
        background = self.services.background
        log.info(
            "stopping: no new requests; up to %g s for %d request(s) in progress and "
            "%d running sequence(s)",
            self.drain_s,
            self.requests,
            len(background),
        )
        drained = await until(self.idle, self.drain_s)
        invocations = self.services.invocations
        # Always: a request still in progress must not start a wait of its own now.
        self.ended = invocations.end_waits() if invocations is not None else 0
        if drained:
            log.info("drained: no request in progress, no sequence running")
            return
        log.warning(
            "drain time over: %d blocking caller(s) answered 202 with their activation id, "
            "%d sequence(s) end with a record, %d request(s) in progress get %g s more",
            self.ended,
            len(background),
            self.requests,
            ANSWER_S,
        )
        await until(lambda: not background, self.settle_s)


async def until(condition: Callable[[], bool], within_s: float) -> bool:
    """Wait up to ``within_s`` for ``condition``; whether it held."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within_s
    while not condition():
        left = give_up - loop.time()
        if left <= 0:
            return False
        await asyncio.sleep(min(POLL_S, left))
    return True


def graceful_runner(
    app: web.Application, services: Services, drain_s: float, **options: Any
) -> web.AppRunner:
    """The runner of ``app``, stopping as this module says (``options``: the runner's, such
    as ``access_log_format``)."""
    Drain(services, drain_s).install(app)
    return web.AppRunner(app, shutdown_timeout=ANSWER_S, **options)


async def stop_serving(runner: web.AppRunner, services: Services) -> None:
    """Stop accepting, drain, answer (``runner.cleanup``), then cancel the sequences left
    (each writes its record)."""
    await runner.cleanup()
    await cancel_all(services.background)
