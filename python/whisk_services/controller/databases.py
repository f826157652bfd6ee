"""The controller's databases on a CouchDB-API server, opened over one HTTP session."""

from __future__ import annotations

import aiohttp

from whisk_services.adapters.couchdb import CouchDocumentStore
from whisk_services.ports.databases import database_names
from whisk_services.ports.documents import DocumentStore
from whisk_services.settings import CouchDBSettings


class Databases:
    """Stores for `subjects`, `whisks` and `activations`, all sharing one session.

    Each call of ``store`` gives a new store object, so that a changes feed's long polls can
    have one of their own and never count against request-path traffic.
    """

    def __init__(self, settings: CouchDBSettings) -> None:
        self.settings = settings
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        self.names = database_names(settings.db_prefix)

    def store(self, name: str) -> DocumentStore:
        auth = (self.settings.user, self.settings.password)
        return CouchDocumentStore(self.session, self.settings.url, self.names[name], auth)

    async def close(self) -> None:
        await self.session.close()
