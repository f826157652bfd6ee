"""What every command handler gets: the effective config and a lazily built client."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from whisk_services.cli.wsk.client import WhiskClient, WhiskError, WhiskHttpError, quote_path
from whisk_services.cli.wsk.config import Config
from whisk_services.cli.wsk.names import QualifiedName, parse_name


@dataclass
class Context:
    config: Config
    _client: WhiskClient | None = None
    _own_namespace: str | None = field(default=None)

    @property
    def client(self) -> WhiskClient:
        if self._client is None:
            base = self.config.base_url
            if base is None:
                raise WhiskError(
                    "The API host is not valid: An API host must be provided."
                    " Run 'wsk property set --apihost HOST' or pass --apihost."
                )
            if not self.config.auth:
                raise WhiskError(
                    "The API authentication key is not set. Run 'wsk property set --auth KEY'"
                    " or pass --auth."
                )
            self._client = WhiskClient(
                base, self.config.auth, insecure=self.config.insecure, debug=self.config.debug
            )
        return self._client

    def name(self, text: str) -> QualifiedName:
        return parse_name(text, self.config.namespace)

    def call(
        self,
        method: str,
        *segments: str,
        query: dict[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, Any]:
        return self.client.request(method, quote_path(*segments), query=query, body=body)

    def entity(
        self,
        method: str,
        collection: str,
        qname: QualifiedName,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, Any]:
        """`/namespaces/{ns}/{collection}/{entity}`."""
        return self.call(
            method, "namespaces", qname.namespace, collection, qname.entity, query=query, body=body
        )

    def display_namespace(self, namespace: str) -> str:
        """`_` shown as the caller's own namespace (asked of the server once), as the seed does."""
        if namespace != "_":
            return namespace
        if self._own_namespace is None:
            try:
                _, names = self.call("GET", "namespaces")
            except WhiskError:
                names = None
            first = names[0] if isinstance(names, list) and names else None
            self._own_namespace = first if isinstance(first, str) else "_"
        return self._own_namespace


def nested(message: str, err: WhiskError) -> WhiskError:
    """`Unable to X 'name': <server error> (code id)`, keeping the inner exit code."""
    return WhiskError(f"{message}: {err}", exit_code=err.exit_code)


def list_query(args: argparse.Namespace) -> dict[str, str]:
    query: dict[str, str] = {}
    if getattr(args, "limit", None) is not None:
        query["limit"] = str(args.limit)
    if getattr(args, "skip", None) is not None:
        query["skip"] = str(args.skip)
    return query


__all__ = ["Context", "WhiskHttpError", "list_query", "nested"]
