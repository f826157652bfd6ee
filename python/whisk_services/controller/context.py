"""What the request handlers share: the stores, the caches, the authenticator, the limits."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.auth import Authenticator
from whisk_services.controller.cache import CachedDocuments
from whisk_services.controller.errors import ApiError
from whisk_services.model.identity import Identity
from whisk_services.model.limits import DEFAULT_BOUNDS, LimitBounds
from whisk_services.model.names import DEFAULT_NAMESPACE, validate_namespace
from whisk_services.ports.documents import DocumentStore


@dataclass(frozen=True, slots=True)
class Services:
    """The controller's dependencies, built once by the app factory."""

    whisks: CachedDocuments
    whisks_store: DocumentStore
    activations: DocumentStore
    authenticator: Authenticator
    bounds: LimitBounds = DEFAULT_BOUNDS
    build: str = "whisk-services"


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def caller(request: web.Request) -> Identity:
    """The authenticated identity of the request, or a 401."""
    return await services(request).authenticator.identify(request.headers.get("Authorization"))


def own_namespace(identity: Identity, namespace: str, resource: str) -> str:
    """Resolve `_` and allow only the caller's own namespace (403 otherwise)."""
    if namespace == DEFAULT_NAMESPACE:
        return identity.namespace
    validate_namespace(namespace)
    if namespace != identity.namespace:
        raise ApiError(403, errors.not_authorized_for(f"{namespace}/{resource}".rstrip("/")))
    return namespace
