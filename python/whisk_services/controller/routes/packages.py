"""`/namespaces/{ns}/packages`: list, get, create or update, and delete packages and bindings.

Actions in a package are stored under the namespace `ns/pkg`. Another namespace may list and
read the published packages (not bindings) of a namespace, nothing else; a binding is a
package that refers to another (readable) package, and reads as that package's actions with
its parameters merged under the binding's.
"""

from __future__ import annotations

import time

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.context import (
    caller,
    check_package_read,
    owner_only,
    resolve_namespace,
    services,
)
from whisk_services.controller.errors import ApiError
from whisk_services.controller.requests import flag, json_object, paging
from whisk_services.controller.routes._stored import replaceable, save, stored
from whisk_services.model.entities import RESERVED_PACKAGE_NAMES, Action, Binding, Package
from whisk_services.model.names import EntityPath, validate_entity_name
from whisk_services.ports.documents import Document, DocumentConflict, JsonObject

routes = web.RouteTableDef()

BINDING_DOES_NOT_EXIST = "Binding references a package that does not exist."
BINDING_TO_BINDING = "Cannot bind to another package binding."
BINDING_NOT_A_PACKAGE = "Cannot bind to a resource that is not a package."
PACKAGE_CANNOT_BECOME_BINDING = "Resource is a package and cannot be converted into a binding."
SUMMARY_FIELDS = ("namespace", "name", "version", "publish", "annotations", "updated")


def _not_empty(count: int) -> str:
    noun = "entity" if count == 1 else "entities"
    return (
        f"Package not empty (contains {count} {noun}). Set force param or delete package contents."
    )


def _summary(package: Package) -> JsonObject:
    """The list shape (OpenWhisk's `packages` view): `binding` is the bound package or false."""
    shown = package.to_api()
    out = {key: shown[key] for key in SUMMARY_FIELDS}
    out["binding"] = package.binding.to_api() if package.binding is not None else False
    return out


async def _contents(request: web.Request, path: str) -> list[Action]:
    """The actions stored in the package `ns/pkg`, newest first."""
    docs = await services(request).whisks_store.query("actions", [path])
    return [Action.from_doc(doc.body) for doc in docs]


async def _stored_package(request: web.Request, doc_id: str) -> Document:
    return await stored(services(request).whisks, doc_id, Package.ENTITY_TYPE)


async def _located(request: web.Request) -> tuple[EntityPath, str]:
    """The package's namespace and name from `{namespace}/packages/{name}`, owner only."""
    identity = await caller(request)
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    name = request.match_info["name"]
    owner_only(identity, namespace, name)
    validate_entity_name(name)
    return EntityPath((namespace,)), name


@routes.get("/api/v1/namespaces/{namespace}/packages")
async def list_packages(request: web.Request) -> web.Response:
    identity = await caller(request)
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    # Anyone may list; a foreign namespace shows only its published packages.
    index = "packages" if namespace == identity.namespace else "packages-public"
    store = services(request).whisks_store
    if flag(request, "count"):
        return web.json_response({"packages": await store.count(index, [namespace])})
    skip, limit = paging(request)
    docs = await store.query(index, [namespace], skip=skip, limit=limit)
    packages = [Package.from_doc(doc.body) for doc in docs]
    if index == "packages-public":
        packages = [p for p in packages if p.binding is None]  # bindings are never public
    return web.json_response([_summary(p) for p in packages])


@routes.get("/api/v1/namespaces/{namespace}/packages/{name}")
async def get_package(request: web.Request) -> web.Response:
    identity = await caller(request)
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    name = request.match_info["name"]
    validate_entity_name(name)
    doc = await check_package_read(request, identity, namespace, name)
    package = Package.from_doc(doc.body)
    contents_of, shown = package, package
    if package.binding is not None:
        bound_id = package.binding.fqn.as_path()
        if bound_id == package.doc_id():
            raise ApiError(
                422, f"Package binding '{package.binding.fqn}' contains a circular reference."
            )
        contents_of = Package.from_doc((await _stored_package(request, bound_id)).body)
        merged = contents_of.parameters.merge(package.parameters)
        shown = Package(
            package.path,
            package.name,
            package.binding,
            package.version,
            package.publish,
            merged,
            package.annotations,
            package.updated,
        )
    actions = await _contents(request, contents_of.doc_id())
    out = shown.to_api()
    entries = [
        (a, {"name": a.name, "version": str(a.version), "annotations": a.annotations.to_api()})
        for a in actions
    ]
    out["actions"] = [entry for a, entry in entries if "feed" not in a.annotations]
    out["feeds"] = [entry for a, entry in entries if "feed" in a.annotations]
    return web.json_response(out)


async def _check_binding_readable(request: web.Request, binding: Binding) -> None:
    """The caller may read the bound package (403), which exists (400) as a package (409)."""
    identity = await caller(request)
    try:
        await check_package_read(request, identity, binding.namespace, binding.name)
    except ApiError as error:
        if error.status == 404:
            raise ApiError(400, BINDING_DOES_NOT_EXIST) from error
        if error.status == 409:
            raise ApiError(409, BINDING_NOT_A_PACKAGE) from error
        raise


async def _check_binding(request: web.Request, binding: Binding) -> None:
    """The bound package exists and is not itself a binding."""
    bound = await services(request).whisks.get(binding.fqn.as_path())
    if bound is None:
        raise ApiError(400, BINDING_DOES_NOT_EXIST)
    if bound.body.get("entityType") != Package.ENTITY_TYPE:
        raise ApiError(409, BINDING_NOT_A_PACKAGE)
    if bound.body.get("binding"):
        raise ApiError(400, BINDING_TO_BINDING)


@routes.put("/api/v1/namespaces/{namespace}/packages/{name}")
async def put_package(request: web.Request) -> web.Response:
    path, name = await _located(request)
    if name in RESERVED_PACKAGE_NAMES:
        raise ApiError(400, f"Package name '{name}' is reserved.")
    body = await json_object(request)
    overwrite = flag(request, "overwrite")
    raw_binding = body.get("binding")
    binding = Binding.from_api(raw_binding, path.namespace) if raw_binding is not None else None
    if binding is not None:
        await _check_binding_readable(request, binding)
    whisks = services(request).whisks
    doc_id = f"{path}/{name}"
    existing_doc = await replaceable(whisks, doc_id, Package.ENTITY_TYPE, overwrite)
    existing = Package.from_doc(existing_doc.body) if existing_doc else None
    if existing is not None and existing.binding is None and binding is not None:
        raise ApiError(409, PACKAGE_CANNOT_BECOME_BINDING)
    if binding is not None:
        await _check_binding(request, binding)
    package = Package.from_api(
        body, path, name, existing=existing, updated_ms=int(time.time() * 1000)
    )
    await save(whisks, doc_id, package.to_doc(), existing_doc)
    return web.json_response(package.to_api())


@routes.delete("/api/v1/namespaces/{namespace}/packages/{name}")
async def delete_package(request: web.Request) -> web.Response:
    path, name = await _located(request)
    force = flag(request, "force")
    doc = await _stored_package(request, f"{path}/{name}")
    package = Package.from_doc(doc.body)
    whisks = services(request).whisks
    if package.binding is None:
        contents = await _contents(request, package.doc_id())
        if contents and not force:
            raise ApiError(409, _not_empty(len(contents)))
        for action in contents:
            stored = await whisks.get(action.doc_id())
            if stored is not None:
                try:
                    await whisks.delete(stored)
                except DocumentConflict as error:
                    raise ApiError(409, errors.CONCURRENT_MODIFICATION) from error
    try:
        await whisks.delete(doc)
    except DocumentConflict as error:
        raise ApiError(409, errors.CONCURRENT_MODIFICATION) from error
    return web.json_response(package.to_api())
