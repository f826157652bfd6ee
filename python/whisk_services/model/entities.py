"""The stored entities: Action, Trigger, Rule and Package (with bindings).

Each entity has `from_api(body, path, name, existing=..., updated_ms=...)`, which validates a
PUT body and applies OpenWhisk's create/update rules, and `to_api()`, which renders the GET
shape. Rules shared by all: unknown body fields are ignored (OpenWhisk's readers ignore them);
`namespace`/`name` come from the URL, never the body; on update an omitted field keeps its old
value and the version's patch is bumped; `delAnnotations` removes annotation keys.

Each also has `to_doc()`/`from_doc(doc)`, the document stored in the entity database: the GET
shape plus `entityType`, stored under `doc_id()` (`<namespace path>/<name>`). `from_doc` reads a
document with the same parsers as `from_api` but restores it as stored: no create/update rules,
no annotations added, and no deployment bounds (limits, sequence length) re-applied.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar, Protocol, Self

from whisk_services.model._json import (
    ENTITY_TYPE_FIELD,
    JsonObject,
    as_document,
    as_int,
    as_object,
    as_str_list,
    opt_bool,
    req_str,
)
from whisk_services.model.errors import ModelError
from whisk_services.model.exec import Exec as ExecT
from whisk_services.model.exec import SequenceExec, exec_from_api
from whisk_services.model.limits import DEFAULT_BOUNDS, ActionLimits, LimitBounds
from whisk_services.model.names import (
    EntityPath,
    FullyQualifiedName,
    validate_entity_name,
    validate_namespace,
)
from whisk_services.model.parameters import Parameters
from whisk_services.model.version import SemVer

RESERVED_PACKAGE_NAMES = frozenset({"default"})
SEQUENCE_ACTIONS_PARAMETER = "_actions"


def _body(value: Any) -> JsonObject:
    """An empty body counts as `{}`, as in OpenWhisk."""
    return {} if value is None else as_object(value, "request body")


@dataclass(frozen=True, slots=True)
class _Common:
    """Fields read the same way for every entity."""

    version: SemVer
    publish: bool
    annotations: Parameters
    parameters: Parameters


def _common(body: JsonObject, existing: Any) -> _Common:
    """Version, publish, annotations and parameters of a PUT, given the stored entity if any."""
    if existing is None:
        raw_version = body.get("version")
        version = SemVer() if raw_version is None else SemVer.parse(raw_version)
        publish, annotations, parameters = False, Parameters(), Parameters()
    else:
        version = existing.version.bump_patch()
        publish, annotations = existing.publish, existing.annotations
        # Rules have no parameters.
        parameters = getattr(existing, "parameters", Parameters())
    new_publish = opt_bool(body, "publish")
    if "annotations" in body and body["annotations"] is not None:
        annotations = Parameters.from_api(body["annotations"], "annotations")
    if "parameters" in body and body["parameters"] is not None:
        parameters = Parameters.from_api(body["parameters"], "parameters")
    deleted = body.get("delAnnotations")
    if deleted is not None:
        annotations = annotations.without(as_str_list(deleted, "delAnnotations"))
    return _Common(
        version, publish if new_publish is None else new_publish, annotations, parameters
    )


@dataclass(frozen=True, slots=True)
class _Stored:
    """The fields every stored entity document has, read; `body` is the whole document."""

    body: JsonObject
    path: EntityPath
    name: str
    common: _Common
    updated: int


def _stored(doc: JsonObject, entity_type: str) -> _Stored:
    """Read a stored document of `entity_type` (its common fields as a create body's)."""
    body = as_document(doc, entity_type)
    path = EntityPath.parse(req_str(body, "namespace"))
    updated = as_int(body.get("updated"), "updated")
    return _Stored(body, path, req_str(body, "name"), _common(body, None), updated)


def _doc_id(path: EntityPath, name: str) -> str:
    """`<namespace path>/<name>`: `guest/hello`, `guest/utils/echo`."""
    return FullyQualifiedName(path, name).as_path()


class _Entity(Protocol):
    """What every stored entity offers the ``_Document`` mixin."""

    ENTITY_TYPE: ClassVar[str]

    @property
    def path(self) -> EntityPath: ...

    @property
    def name(self) -> str: ...

    def to_api(self) -> JsonObject: ...


class _Document:
    """The stored form every entity shares: its id `ns/name`, and the GET shape plus
    `entityType` as the document."""

    __slots__ = ()

    def doc_id(self: _Entity) -> str:
        """The id of the stored document: `ns/name`."""
        return _doc_id(self.path, self.name)

    def to_doc(self: _Entity) -> JsonObject:
        """The stored document: the GET shape plus `entityType`."""
        return {**self.to_api(), ENTITY_TYPE_FIELD: self.ENTITY_TYPE}


@dataclass(frozen=True, slots=True)
class Action(_Document):
    """An action: its exec, limits, default parameters and annotations."""

    ENTITY_TYPE: ClassVar[str] = "action"

    path: EntityPath
    name: str
    exec: ExecT
    version: SemVer = field(default_factory=SemVer)
    publish: bool = False
    parameters: Parameters = field(default_factory=Parameters)
    limits: ActionLimits = field(default_factory=ActionLimits)
    annotations: Parameters = field(default_factory=Parameters)
    updated: int = 0

    def __post_init__(self) -> None:
        validate_entity_name(self.name)

    @property
    def fqn(self) -> FullyQualifiedName:
        """`/ns/[pkg/]name`."""
        return FullyQualifiedName(self.path, self.name)

    @classmethod
    def from_api(
        cls,
        body: Any,
        path: EntityPath,
        name: str,
        *,
        existing: Action | None = None,
        updated_ms: int = 0,
        bounds: LimitBounds = DEFAULT_BOUNDS,
    ) -> Action:
        """Validate a PUT body; with `existing` it is an update, else a create.

        On create `exec` is required and annotations `exec=<kind>` and `provide-api-key=false`
        (if absent) are added; a sequence stores its components as the `_actions` parameter.
        """
        data = _body(body)
        common = _common(data, existing)
        raw_exec = data.get("exec")
        if raw_exec is not None:
            action_exec = exec_from_api(raw_exec, path.namespace)
        elif existing is not None:
            action_exec = existing.exec
        else:
            raise ModelError("exec undefined")
        raw_limits = data.get("limits")
        base_limits = existing.limits if existing is not None else None
        limits = (
            ActionLimits.from_api(raw_limits, base_limits, bounds)
            if raw_limits is not None
            else base_limits or ActionLimits.standard(bounds)
        )
        annotations = common.annotations.set("exec", action_exec.kind)
        if existing is None:
            annotations = annotations.set_default("provide-api-key", False)
        parameters = common.parameters
        if isinstance(action_exec, SequenceExec):
            parameters = parameters.set(
                SEQUENCE_ACTIONS_PARAMETER, [str(c) for c in action_exec.components]
            )
        return cls(
            path,
            name,
            action_exec,
            common.version,
            common.publish,
            parameters,
            limits,
            annotations,
            updated_ms,
        )

    def to_api(self, include_code: bool = True) -> JsonObject:
        """The GET shape; `include_code=False` matches `?code=false`."""
        return {
            "namespace": str(self.path),
            "name": self.name,
            "version": str(self.version),
            "publish": self.publish,
            "exec": self.exec.to_api(include_code),
            "parameters": self.parameters.to_api(),
            "limits": self.limits.to_api(),
            "annotations": self.annotations.to_api(),
            "updated": self.updated,
        }

    def summary(self) -> JsonObject:
        """The list shape: no code and no parameters, `exec` reduced to `{"binary"}`."""
        return {
            "namespace": str(self.path),
            "name": self.name,
            "version": str(self.version),
            "publish": self.publish,
            "annotations": self.annotations.to_api(),
            "limits": self.limits.to_api(),
            "exec": {"binary": self.exec.binary},
            "updated": self.updated,
        }

    @classmethod
    def from_doc(cls, doc: JsonObject) -> Self:
        """Restore the action `to_doc` stored."""
        s = _stored(doc, cls.ENTITY_TYPE)
        # No sequence-length bound: the deployment's applied when the action was written.
        action_exec = exec_from_api(s.body.get("exec"), s.path.namespace, sys.maxsize)
        limits = ActionLimits.from_doc(s.body.get("limits"))
        c = s.common
        return cls(
            s.path,
            s.name,
            action_exec,
            c.version,
            c.publish,
            c.parameters,
            limits,
            c.annotations,
            s.updated,
        )


class RuleStatus(StrEnum):
    """Whether firing the rule's trigger invokes its action."""

    ACTIVE = "active"
    INACTIVE = "inactive"

    @classmethod
    def from_api(cls, body: Any) -> RuleStatus:
        """Read the body of `POST .../rules/{name}`: `{"status": "active"|"inactive"}`."""
        status = _body(body).get("status")
        for member in cls:
            if status == member.value:
                return member
        raise ModelError("status must be 'active' or 'inactive'")


@dataclass(frozen=True, slots=True)
class TriggerRule:
    """The link a trigger document keeps per rule: the action to invoke and the rule status."""

    action: FullyQualifiedName
    status: RuleStatus = RuleStatus.ACTIVE

    def to_api(self) -> JsonObject:
        """`{"action": {"path", "name"}, "status"}`."""
        return {"action": self.action.to_api(), "status": str(self.status)}

    @classmethod
    def from_api(cls, value: Any) -> TriggerRule:
        """Read the `to_api` shape."""
        body = as_object(value, "rules")
        return cls(FullyQualifiedName.from_api(body.get("action")), RuleStatus.from_api(body))


@dataclass(frozen=True, slots=True)
class Trigger(_Document):
    """A named event channel; the rules it fires are kept in the trigger itself."""

    ENTITY_TYPE: ClassVar[str] = "trigger"

    path: EntityPath
    name: str
    version: SemVer = field(default_factory=SemVer)
    publish: bool = False
    parameters: Parameters = field(default_factory=Parameters)
    annotations: Parameters = field(default_factory=Parameters)
    rules: tuple[tuple[str, TriggerRule], ...] = ()
    updated: int = 0

    def __post_init__(self) -> None:
        validate_entity_name(self.name)

    @classmethod
    def from_api(
        cls,
        body: Any,
        path: EntityPath,
        name: str,
        *,
        existing: Trigger | None = None,
        updated_ms: int = 0,
    ) -> Trigger:
        """Validate a PUT body; a `feed` annotation must be a fully qualified action name."""
        common = _common(_body(body), existing)
        feed = common.annotations.get("feed")
        if feed is not None:
            try:
                FullyQualifiedName.parse(feed)
            except ModelError:
                raise ModelError("Feed name is not valid") from None
        return cls(
            path,
            name,
            common.version,
            common.publish,
            common.parameters,
            common.annotations,
            existing.rules if existing is not None else (),
            updated_ms,
        )

    def with_rule(self, rule: FullyQualifiedName, link: TriggerRule) -> Trigger:
        """A copy that links (or re-links) `rule`."""
        key = rule.as_path()
        rules = tuple((k, r) for k, r in self.rules if k != key)
        return replace(self, rules=(*rules, (key, link)))

    def without_rule(self, rule: FullyQualifiedName) -> Trigger:
        """A copy without the link of `rule`."""
        key = rule.as_path()
        return replace(self, rules=tuple((k, r) for k, r in self.rules if k != key))

    def to_api(self) -> JsonObject:
        """The GET shape; `rules` is present only when the trigger has rules."""
        out: JsonObject = {
            "namespace": str(self.path),
            "name": self.name,
            "version": str(self.version),
            "publish": self.publish,
            "parameters": self.parameters.to_api(),
            "limits": {},
            "annotations": self.annotations.to_api(),
            "updated": self.updated,
        }
        if self.rules:
            out["rules"] = {key: link.to_api() for key, link in self.rules}
        return out

    @classmethod
    def from_doc(cls, doc: JsonObject) -> Self:
        """Restore the trigger `to_doc` stored, with its rule links in their order."""
        s = _stored(doc, cls.ENTITY_TYPE)
        links = as_object(s.body.get("rules", {}), "rules")
        rules = tuple(
            (FullyQualifiedName.parse(key).as_path(), TriggerRule.from_api(link))
            for key, link in links.items()
        )
        c = s.common
        return cls(
            s.path, s.name, c.version, c.publish, c.parameters, c.annotations, rules, s.updated
        )


@dataclass(frozen=True, slots=True)
class Rule(_Document):
    """Connects a trigger to an action."""

    ENTITY_TYPE: ClassVar[str] = "rule"

    path: EntityPath
    name: str
    trigger: FullyQualifiedName
    action: FullyQualifiedName
    status: RuleStatus = RuleStatus.ACTIVE
    version: SemVer = field(default_factory=SemVer)
    publish: bool = False
    annotations: Parameters = field(default_factory=Parameters)
    updated: int = 0

    def __post_init__(self) -> None:
        validate_entity_name(self.name)

    @classmethod
    def from_api(
        cls,
        body: Any,
        path: EntityPath,
        name: str,
        *,
        existing: Rule | None = None,
        updated_ms: int = 0,
    ) -> Rule:
        """Validate a PUT body `{"trigger": "/_/t", "action": "/_/a"}`; `_` is resolved.

        A new rule is active.
        """
        data = _body(body)
        common = _common(data, existing)

        def component(key: str) -> FullyQualifiedName | None:
            raw = data.get(key)
            if raw is None:
                return None
            try:
                return FullyQualifiedName.parse(raw).resolve(path.namespace)
            except ModelError:
                raise ModelError("rule requires a valid trigger and a valid action") from None

        trigger, action = component("trigger"), component("action")
        if existing is not None:
            trigger = trigger or existing.trigger
            action = action or existing.action
        if trigger is None or action is None:
            raise ModelError("rule requires a valid trigger and a valid action")
        return cls(
            path,
            name,
            trigger,
            action,
            existing.status if existing is not None else RuleStatus.ACTIVE,
            common.version,
            common.publish,
            common.annotations,
            updated_ms,
        )

    def to_api(self, status: RuleStatus | None = None) -> JsonObject:
        """The GET shape; `status` overrides the stored one (it is computed from the trigger)."""
        return {
            "namespace": str(self.path),
            "name": self.name,
            "version": str(self.version),
            "publish": self.publish,
            "annotations": self.annotations.to_api(),
            "status": str(status or self.status),
            "trigger": self.trigger.to_api(),
            "action": self.action.to_api(),
            "updated": self.updated,
        }

    @classmethod
    def from_doc(cls, doc: JsonObject) -> Self:
        """Restore the rule `to_doc` stored."""
        s = _stored(doc, cls.ENTITY_TYPE)
        trigger = FullyQualifiedName.from_api(s.body.get("trigger"))
        action = FullyQualifiedName.from_api(s.body.get("action"))
        c = s.common
        return cls(
            s.path,
            s.name,
            trigger,
            action,
            RuleStatus.from_api(s.body),
            c.version,
            c.publish,
            c.annotations,
            s.updated,
        )


@dataclass(frozen=True, slots=True)
class Binding:
    """The package a binding refers to."""

    namespace: str
    name: str

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        validate_entity_name(self.name)

    @property
    def fqn(self) -> FullyQualifiedName:
        """`/namespace/name` of the bound package."""
        return FullyQualifiedName(EntityPath((self.namespace,)), self.name)

    def to_api(self) -> dict[str, str]:
        """`{"namespace", "name"}`."""
        return {"namespace": self.namespace, "name": self.name}

    @classmethod
    def from_api(cls, value: Any, namespace: str) -> Binding | None:
        """Read `{}` (no binding) or `{"namespace", "name"}`, a `_` namespace resolved."""
        body = as_object(value, "binding")
        if not body:
            return None
        ns, bound = body.get("namespace"), body.get("name")
        if not isinstance(ns, str) or not isinstance(bound, str):
            raise ModelError("Binding references a package that does not exist.")
        return cls(EntityPath((ns,)).resolve(namespace).namespace, bound)


@dataclass(frozen=True, slots=True)
class Package(_Document):
    """A package of actions and feeds, or a binding to another package."""

    ENTITY_TYPE: ClassVar[str] = "package"

    path: EntityPath
    name: str
    binding: Binding | None = None
    version: SemVer = field(default_factory=SemVer)
    publish: bool = False
    parameters: Parameters = field(default_factory=Parameters)
    annotations: Parameters = field(default_factory=Parameters)
    updated: int = 0

    def __post_init__(self) -> None:
        validate_entity_name(self.name)

    @classmethod
    def from_api(
        cls,
        body: Any,
        path: EntityPath,
        name: str,
        *,
        existing: Package | None = None,
        updated_ms: int = 0,
    ) -> Package:
        """Validate a PUT body; `binding` is `{}` or `{"namespace", "name"}` (`_` resolved).

        The name `default` is reserved; a package cannot become a binding; a binding gets the
        annotation `binding` naming the bound package.
        """
        if name in RESERVED_PACKAGE_NAMES:
            raise ModelError(f"Package name '{name}' is reserved.")
        data = _body(body)
        common = _common(data, existing)
        binding = existing.binding if existing is not None else None
        raw = data.get("binding")
        if raw is not None:
            binding = Binding.from_api(raw, path.namespace)
        if existing is not None and existing.binding is None and binding is not None:
            raise ModelError("Resource is a package and cannot be converted into a binding.")
        annotations = common.annotations
        if binding is not None:
            annotations = annotations.set("binding", binding.to_api())
        return cls(
            path,
            name,
            binding,
            common.version,
            common.publish,
            common.parameters,
            annotations,
            updated_ms,
        )

    def to_api(self) -> JsonObject:
        """The GET shape; `binding` is `{}` for a plain package."""
        return {
            "namespace": str(self.path),
            "name": self.name,
            "version": str(self.version),
            "publish": self.publish,
            "binding": self.binding.to_api() if self.binding is not None else {},
            "parameters": self.parameters.to_api(),
            "annotations": self.annotations.to_api(),
            "updated": self.updated,
        }

    @classmethod
    def from_doc(cls, doc: JsonObject) -> Self:
        """Restore the package or binding `to_doc` stored."""
        s = _stored(doc, cls.ENTITY_TYPE)
        binding = Binding.from_api(s.body.get("binding", {}), s.path.namespace)
        c = s.common
        return cls(
            s.path, s.name, binding, c.version, c.publish, c.parameters, c.annotations, s.updated
        )
