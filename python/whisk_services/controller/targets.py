"""Find the stored action a request names, and what its activations inherit.

An action is named `/ns/name`, `/ns/pkg/name` or `/ns/binding/name`. Reading or invoking it
needs the rights ``check_action_right`` grants (the owner; anyone for a published package or
their own binding to one). The action is stored under its package's path: for a binding,
the bound package's. Its activations inherit the parameters of that package, overridden by
those of the binding it was reached through; the action's own parameters override both,
and the payload of an invoke all of them (OpenWhisk's order).
"""

from __future__ import annotations

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.activator import Target
from whisk_services.controller.context import check_action_right, services
from whisk_services.controller.errors import ApiError
from whisk_services.controller.routes._stored import stored
from whisk_services.model.entities import Action, Package
from whisk_services.model.identity import Identity
from whisk_services.model.names import EntityPath
from whisk_services.model.parameters import Parameters


async def resolve_target(
    request: web.Request, identity: Identity, path: EntityPath, name: str
) -> Target:
    """The action `name` under `path` as ``identity`` may read or invoke it.

    403 without the right, 404 when the action (or its package) is missing, 409 for the
    package 'cycle' and wrong-collection cases ``check_action_right`` reports. The target's
    ``inherited`` parameters are the package's merged with the binding's (the binding wins);
    empty for an action outside packages.
    """
    stored_path = await check_action_right(request, identity, path, name, True)
    inherited = Parameters()
    if path.package is not None:
        inherited = await _package_parameters(request, stored_path)
        if stored_path != path:  # reached through a binding
            inherited = inherited.merge(await _package_parameters(request, path))
    whisks = services(request).whisks
    doc = await stored(whisks, f"{stored_path}/{name}", Action.ENTITY_TYPE)
    return Target(stored_path, name, doc.rev, whisks.parsed(doc, Action.from_doc), inherited)


async def _package_parameters(request: web.Request, path: EntityPath) -> Parameters:
    """The parameters of the package (or binding) stored at `path` (just checked readable:
    the cache answers; a package deleted meanwhile is a 404)."""
    doc = await services(request).whisks.get(str(path))
    if doc is None or doc.body.get("entityType") != Package.ENTITY_TYPE:
        raise ApiError(404, errors.NOT_FOUND)
    return Package.from_doc(doc.body).parameters
