"""`/namespaces/{ns}/rules`: list, get, create or update, enable or disable, delete rules.

A rule's status is not its own: it lives in the link the rule's trigger document keeps
(`rules: {"ns/rule": {"action", "status"}}`), so creating, re-pointing, enabling, disabling
and deleting a rule rewrite that trigger document, re-reading it on a revision conflict. A
rule whose trigger is gone reads as `inactive`.

Each conflict means another writer's rewrite landed after our read, so with N writers on one
trigger each needs at most N attempts: `TRIGGER_UPDATE_ATTEMPTS` covers that many concurrent
rule changes on one trigger, and a short random pause between attempts keeps the writers from
colliding in step. Past that the caller gets 409 and nothing was changed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import replace

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.context import (
    caller,
    check_action_right,
    owner_only,
    resolve_namespace,
    services,
)
from whisk_services.controller.errors import ApiError
from whisk_services.controller.requests import flag, json_object, paging
from whisk_services.controller.routes._stored import remove, stored
from whisk_services.model.entities import Action, Rule, RuleStatus, Trigger, TriggerRule
from whisk_services.model.errors import ModelError
from whisk_services.model.names import EntityPath, FullyQualifiedName, validate_entity_name
from whisk_services.ports.documents import Document, DocumentConflict

routes = web.RouteTableDef()

# Attempts at rewriting a trigger's rule links when its revision keeps changing under us.
TRIGGER_UPDATE_ATTEMPTS = 16
# The random pause after the k-th conflict is at most min(cap, base * 2**k) seconds.
CONFLICT_PAUSE_BASE_S = 0.002
CONFLICT_PAUSE_CAP_S = 0.05
NO_TRIGGER_TO_ACTIVATE = "Only rules with existing triggers can be activated"


async def _located(request: web.Request) -> FullyQualifiedName:
    """The rule's name from `{namespace}/rules/{name}`, owner only."""
    identity = await caller(request)
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    name = request.match_info["name"]
    owner_only(identity, namespace, name)
    validate_entity_name(name)
    return FullyQualifiedName(EntityPath((namespace,)), name)


async def _stored_rule(request: web.Request, rule: FullyQualifiedName) -> Document:
    return await stored(services(request).whisks, rule.as_path(), Rule.ENTITY_TYPE)


async def _trigger(request: web.Request, trigger: FullyQualifiedName) -> Trigger | None:
    doc = await services(request).whisks.get(trigger.as_path())
    if doc is None or doc.body.get("entityType") != Trigger.ENTITY_TYPE:
        return None
    return Trigger.from_doc(doc.body)


def _status(trigger: Trigger | None, rule: FullyQualifiedName) -> RuleStatus:
    """The rule's status as its trigger records it; `inactive` without trigger or link."""
    if trigger is not None:
        for key, link in trigger.rules:
            if key == rule.as_path():
                return link.status
    return RuleStatus.INACTIVE


async def _relink(
    request: web.Request, trigger: FullyQualifiedName, change: Callable[[Trigger], Trigger]
) -> Trigger | None:
    """Rewrite the trigger document with `change` applied to its rule links.

    On a revision conflict the document is read again (past the cache) and the change
    re-applied, a few times. Returns the trigger as written, or None if it does not exist.
    """
    whisks = services(request).whisks
    doc_id = trigger.as_path()
    doc = await whisks.get(doc_id)
    for attempt in range(TRIGGER_UPDATE_ATTEMPTS):
        if doc is None or doc.body.get("entityType") != Trigger.ENTITY_TYPE:
            return None
        changed = replace(change(Trigger.from_doc(doc.body)), updated=int(time.time() * 1000))
        try:
            await whisks.put(doc_id, changed.to_doc(), doc.rev)
        except DocumentConflict:
            if attempt + 1 == TRIGGER_UPDATE_ATTEMPTS:
                break  # no attempt left: neither pause nor read again
            pause = min(CONFLICT_PAUSE_CAP_S, CONFLICT_PAUSE_BASE_S * 2**attempt)
            await asyncio.sleep(random.uniform(0, pause))  # noqa: S311 (jitter, not a secret)
            doc = await whisks.store.get(doc_id)
            continue
        return changed
    raise ApiError(409, errors.CONCURRENT_MODIFICATION)


@routes.get("/api/v1/namespaces/{namespace}/rules")
async def list_rules(request: web.Request) -> web.Response:
    identity = await caller(request)
    namespace = resolve_namespace(identity, request.match_info["namespace"])
    owner_only(identity, namespace, "")
    store = services(request).whisks_store
    if flag(request, "count"):
        return web.json_response({"rules": await store.count("rules", [namespace])})
    skip, limit = paging(request)
    docs = await store.query("rules", [namespace], skip=skip, limit=limit)
    # As OpenWhisk lists them: the rule documents, without the status (it is the trigger's).
    listed = []
    for doc in docs:
        rule = Rule.from_doc(doc.body).to_api()
        del rule["status"]
        listed.append(rule)
    return web.json_response(listed)


@routes.get("/api/v1/namespaces/{namespace}/rules/{name}")
async def get_rule(request: web.Request) -> web.Response:
    name = await _located(request)
    rule = Rule.from_doc((await _stored_rule(request, name)).body)
    status = _status(await _trigger(request, rule.trigger), name)
    return web.json_response(rule.to_api(status))


async def _check_references(request: web.Request, rule: Rule) -> None:
    """The caller may read the trigger and the action, and both exist (else 403 / 400)."""
    identity = await caller(request)
    trigger, action = rule.trigger, rule.action
    owner_only(identity, trigger.namespace, trigger.name)
    action_path = await check_action_right(request, identity, action.path, action.name, True)
    if await _trigger(request, trigger) is None:
        raise ApiError(400, f"trigger {trigger} does not exist")
    action_doc = await services(request).whisks.get(f"{action_path}/{action.name}")
    if action_doc is None or action_doc.body.get("entityType") != Action.ENTITY_TYPE:
        raise ApiError(400, f"action {action} does not exist")


@routes.put("/api/v1/namespaces/{namespace}/rules/{name}")
async def put_rule(request: web.Request) -> web.Response:
    name = await _located(request)
    body = await json_object(request)
    overwrite = flag(request, "overwrite")
    whisks = services(request).whisks
    existing_doc = await whisks.get(name.as_path())
    existing: Rule | None = None
    if existing_doc is not None:
        if existing_doc.body.get("entityType") != Rule.ENTITY_TYPE:
            raise ApiError(409, errors.WRONG_COLLECTION)
        if not overwrite:
            raise ApiError(409, errors.ALREADY_EXISTS)
        existing = Rule.from_doc(existing_doc.body)
    rule = Rule.from_api(
        body, name.path, name.name, existing=existing, updated_ms=int(time.time() * 1000)
    )
    await _check_references(request, rule)

    status = RuleStatus.ACTIVE
    if existing is not None:
        status = _status(await _trigger(request, existing.trigger), name)
        if existing.trigger != rule.trigger:
            await _relink(request, existing.trigger, lambda t: t.without_rule(name))
    link = TriggerRule(rule.action, status)
    if await _relink(request, rule.trigger, lambda t: t.with_rule(name, link)) is None:
        raise ApiError(400, f"trigger {rule.trigger} does not exist")
    rule = replace(rule, status=status)
    try:
        await whisks.put(name.as_path(), rule.to_doc(), existing_doc.rev if existing_doc else None)
    except DocumentConflict as error:
        raise ApiError(409, errors.CONCURRENT_MODIFICATION) from error
    return web.json_response(rule.to_api())


@routes.post("/api/v1/namespaces/{namespace}/rules/{name}")
async def set_rule_status(request: web.Request) -> web.Response:
    name = await _located(request)
    body = await json_object(request)
    try:
        wanted = RuleStatus.from_api(body)
    except ModelError as error:
        raise ApiError(400, errors.MALFORMED_JSON.format(detail=error.message)) from error
    rule = Rule.from_doc((await _stored_rule(request, name)).body)
    trigger = await _trigger(request, rule.trigger)
    if trigger is None:
        raise ApiError(404, NO_TRIGGER_TO_ACTIVATE)
    if _status(trigger, name) is not wanted:
        link = TriggerRule(rule.action, wanted)
        if await _relink(request, rule.trigger, lambda t: t.with_rule(name, link)) is None:
            raise ApiError(404, NO_TRIGGER_TO_ACTIVATE)
    # OpenWhisk answers a bare 200 here (akka's `complete(OK)`: the text "OK").
    return web.Response(status=200, text="OK")


@routes.delete("/api/v1/namespaces/{namespace}/rules/{name}")
async def delete_rule(request: web.Request) -> web.Response:
    name = await _located(request)
    doc = await _stored_rule(request, name)
    rule = Rule.from_doc(doc.body)
    await _relink(request, rule.trigger, lambda t: t.without_rule(name))
    await remove(services(request).whisks, doc)
    return web.json_response(rule.to_api(RuleStatus.INACTIVE))
