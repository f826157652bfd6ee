"""`whisk-controller`: read the settings, open the databases, serve the API until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web

from whisk_services import __version__
from whisk_services.controller.app import build_app
from whisk_services.controller.auth import Authenticator
from whisk_services.controller.cache import CachedDocuments
from whisk_services.controller.changes import ChangeFollower
from whisk_services.controller.context import Services
from whisk_services.controller.databases import Databases
from whisk_services.controller.indexes import (
    ACTIVATIONS_INDEXES,
    SUBJECTS_INDEXES,
    WHISKS_INDEXES,
)
from whisk_services.settings import ControllerSettings, SettingsError

log = logging.getLogger("whisk.controller")

# The access log names each request's transaction id, as the error bodies do.
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs tid=%{X-Request-ID}o'


async def serve(settings: ControllerSettings, stop: asyncio.Event) -> None:
    databases = Databases(settings.couchdb)
    followers: list[ChangeFollower] = []
    runner: web.AppRunner | None = None
    try:
        subjects = databases.store("subjects")
        whisks = databases.store("whisks")
        activations = databases.store("activations")
        await subjects.ensure(SUBJECTS_INDEXES)
        await whisks.ensure(WHISKS_INDEXES)
        await activations.ensure(ACTIVATIONS_INDEXES)
        subjects_feed = ChangeFollower(databases.store("subjects"))
        whisks_feed = ChangeFollower(databases.store("whisks"))
        followers = [subjects_feed, whisks_feed]
        services = Services(
            whisks=CachedDocuments(whisks, whisks_feed),
            whisks_store=whisks,
            activations=activations,
            authenticator=Authenticator(subjects, subjects_feed),
            subjects=CachedDocuments(subjects, subjects_feed),
            build=f"whisk-services {__version__}",
        )
        for follower in followers:
            await follower.start()
        runner = web.AppRunner(build_app(services), access_log_format=ACCESS_LOG_FORMAT)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        log.info(
            "controller%d listening on %s:%d (databases %s*)",
            settings.instance,
            settings.host,
            settings.port,
            settings.couchdb.db_prefix,
        )
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        for follower in followers:
            await follower.stop()
        await databases.close()


def main() -> int:
    try:
        settings = ControllerSettings.from_env()
    except SettingsError as error:
        print(f"whisk-controller: {error}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
