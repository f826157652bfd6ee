"""What the request handlers share: the stores, the caches, the authenticator, the limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.auth import Authenticator
from whisk_services.controller.cache import CachedDocuments
from whisk_services.controller.errors import ApiError
from whisk_services.controller.invocations import Invocations
from whisk_services.controller.throttles import Throttles
from whisk_services.model.entities import Package
from whisk_services.model.identity import Identity
from whisk_services.model.limits import DEFAULT_BOUNDS, LimitBounds
from whisk_services.model.names import DEFAULT_NAMESPACE, EntityPath, validate_namespace
from whisk_services.ports.documents import Document, DocumentStore

# A binding refers to a package, never to another binding: two hops suffice.
_MAX_BINDING_HOPS = 3


@dataclass(frozen=True, slots=True)
class Services:
    """The controller's dependencies, built once by the app factory."""

    whisks: CachedDocuments
    whisks_store: DocumentStore
    activations: DocumentStore
    authenticator: Authenticator
    subjects: CachedDocuments
    bounds: LimitBounds = DEFAULT_BOUNDS
    build: str = "whisk-services"
    # The Kafka invoke path; None when the controller runs without Kafka (invokes are 503).
    invocations: Invocations | None = None
    # The per-namespace throttles (429); None only in tests that do not exercise them.
    throttles: Throttles | None = None
    # Work that outlives its request (sequences run by the controller): kept here so it is
    # not garbage collected, and cancelled when the controller stops.
    background: set[asyncio.Task[Any]] = field(default_factory=set)


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


def resolve_namespace(identity: Identity, namespace: str) -> str:
    """Resolve `_` to the caller's namespace and validate any other namespace."""
    if namespace == DEFAULT_NAMESPACE:
        return identity.namespace
    return validate_namespace(namespace)


def forbidden(resource: str) -> ApiError:
    """403 for `resource` (`ns[/pkg][/name]`), in OpenWhisk's wording."""
    return ApiError(403, errors.not_authorized_for(resource))


def owner_only(identity: Identity, namespace: str, resource: str) -> None:
    """Everything but reading public packages is for the namespace's owner alone."""
    if namespace != identity.namespace:
        raise forbidden(f"{namespace}/{resource}".rstrip("/"))


async def check_package_read(
    request: web.Request, identity: Identity, namespace: str, package: str
) -> Document:
    """The READ right on a package or binding (OpenWhisk's ``PackageCollection``).

    The owner may read its packages; anyone may read a published package. A binding may be
    read by its owner only, and only if the bound package is readable in turn. A missing
    package is a 404 for its owner and a 403 for anyone else (no leak of what exists).
    Returns the requested package's document.
    """
    whisks = services(request).whisks
    requested = f"{namespace}/{package}"
    doc_id, owner = requested, namespace == identity.namespace
    first: Document | None = None
    for _ in range(_MAX_BINDING_HOPS):
        doc = await whisks.get(doc_id)
        if doc is None or doc.body.get("entityType") != Package.ENTITY_TYPE:
            if not owner:
                raise forbidden(requested)
            if doc is None:
                raise ApiError(404, errors.NOT_FOUND)
            raise ApiError(409, errors.WRONG_COLLECTION)
        first = first or doc
        binding = doc.body.get("binding")
        if not binding:
            if owner or doc.body.get("publish") is True:
                return first
            raise forbidden(requested)
        if not owner:
            raise forbidden(requested)
        bound = Package.from_doc(doc.body).binding
        if bound is None:  # pragma: no cover - `binding` was non-empty
            return first
        doc_id, owner = bound.fqn.as_path(), bound.namespace == identity.namespace
    raise ApiError(422, f"Package binding '/{requested}' contains a circular reference.")


async def check_action_right(
    request: web.Request, identity: Identity, path: EntityPath, name: str, read_only: bool
) -> EntityPath:
    """Rights on an action (OpenWhisk's ``ActionCollection``): the owner may do anything;
    reading or invoking an action in a package needs the READ right on that package.

    Returns the path the action is stored under: for a read through a package binding, the
    bound package's.
    """
    package = path.package
    if read_only and package is not None:
        doc = await check_package_read(request, identity, path.namespace, package)
        bound = Package.from_doc(doc.body).binding
        return path if bound is None else EntityPath((bound.namespace, bound.name))
    owner_only(identity, path.namespace, f"{'/'.join(path.segments[1:])}/{name}".lstrip("/"))
    return path
