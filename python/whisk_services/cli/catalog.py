"""The system catalog: public packages of ready-made actions in the namespace `whisk.system`,
installed by `wskadmin catalog install` straight into the databases.

A catalog directory holds one directory per package (`catalog/utils/`): a `manifest.json`
with the package's description and each action's `description` and `parameters` annotations,
and one Node.js file per action (`echo.js` becomes the action `echo`). Every action needs its
manifest entry and every entry its file.

The installer writes the documents the controller's PUT would write (the model's `from_api`
and `to_doc`, as the routes use them) and is idempotent: an entity whose document would not
change apart from its version and update time is left alone, so a second run writes nothing.
The catalog directory is `--catalog-dir`, else `$WHISK_CATALOG_DIR`, else the `catalog/`
directory of the repository this module runs from.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whisk_services.model.entities import Action, Package
from whisk_services.model.errors import ModelError
from whisk_services.model.identity import AuthKey, Identity
from whisk_services.model.names import EntityPath, validate_entity_name, validate_namespace
from whisk_services.ports.documents import Document, DocumentStore, JsonObject

CATALOG_DIR_ENV = "WHISK_CATALOG_DIR"
SYSTEM_NAMESPACE = "whisk.system"
ACTION_KIND = "nodejs:18"
MANIFEST = "manifest.json"
ACTION_SUFFIX = ".js"
# Fields that change on every write; two documents equal apart from them are the same.
_VOLATILE = ("version", "updated")


class CatalogError(Exception):
    """A catalog that cannot be installed as it is; printed as `error: ...`."""


def default_catalog_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$WHISK_CATALOG_DIR`, else `<repository>/catalog` (this file is
    `<repository>/python/whisk_services/cli/catalog.py`)."""
    source = os.environ if env is None else env
    configured = source.get(CATALOG_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "catalog"


@dataclass(frozen=True, slots=True)
class CatalogAction:
    """One action of a catalog package: its code and its two annotations."""

    name: str
    code: str
    description: str
    parameters: list[Any]

    def put_body(self) -> JsonObject:
        """The body of the PUT that creates or updates it. `provide-api-key` is sent so that
        an update keeps the annotation a create adds; parameters are the catalog's (none)."""
        return {
            "exec": {"kind": ACTION_KIND, "code": self.code},
            "parameters": [],
            "annotations": [
                {"key": "description", "value": self.description},
                {"key": "parameters", "value": self.parameters},
                {"key": "provide-api-key", "value": False},
            ],
        }


@dataclass(frozen=True, slots=True)
class CatalogPackage:
    """A public package of the catalog and its actions, in name order."""

    name: str
    description: str
    actions: tuple[CatalogAction, ...]

    def put_body(self) -> JsonObject:
        return {
            "publish": True,
            "parameters": [],
            "annotations": [{"key": "description", "value": self.description}],
        }


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise CatalogError(f"{what} must be a non-empty string")
    return value


def load_package(directory: Path) -> CatalogPackage:
    """Read one package directory: its manifest and its action files."""
    name = directory.name
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CatalogError(f"cannot read {manifest_path}: {error}") from error
    if not isinstance(manifest, dict):
        raise CatalogError(f"{manifest_path} must hold a JSON object")
    package = manifest.get("package")
    entries = manifest.get("actions")
    if not isinstance(package, dict) or not isinstance(entries, dict):
        raise CatalogError(f"{manifest_path} needs the objects 'package' and 'actions'")
    description = _text(package.get("description"), f"{manifest_path}: package.description")
    files = {p.name.removesuffix(ACTION_SUFFIX): p for p in directory.glob(f"*{ACTION_SUFFIX}")}
    if set(files) != set(entries):
        unlisted = ", ".join(sorted(set(files) - set(entries))) or "none"
        missing = ", ".join(sorted(set(entries) - set(files))) or "none"
        raise CatalogError(
            f"{directory}: every action needs a file and a manifest entry"
            f" (files without an entry: {unlisted}; entries without a file: {missing})"
        )
    actions = []
    for action_name in sorted(files):
        entry = entries[action_name]
        where = f"{manifest_path}: actions.{action_name}"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where} must be an object")
        parameters = entry.get("parameters", [])
        if not isinstance(parameters, list):
            raise CatalogError(f"{where}.parameters must be an array")
        try:
            validate_entity_name(action_name)
        except ModelError as error:
            raise CatalogError(f"{files[action_name]}: {error}") from error
        actions.append(
            CatalogAction(
                action_name,
                files[action_name].read_text(encoding="utf-8"),
                _text(entry.get("description"), f"{where}.description"),
                parameters,
            )
        )
    return CatalogPackage(name, description, tuple(actions))


def load_catalog(directory: Path) -> list[CatalogPackage]:
    """Every package of the catalog: each subdirectory holding a manifest, in name order."""
    if not directory.is_dir():
        raise CatalogError(
            f"no catalog directory {directory} (name one with --catalog-dir or ${CATALOG_DIR_ENV})"
        )
    packages = [load_package(d) for d in sorted(directory.iterdir()) if (d / MANIFEST).is_file()]
    if not packages:
        raise CatalogError(f"{directory} holds no package (a directory with a {MANIFEST})")
    return packages


@dataclass
class InstallReport:
    """What an install did: the key of a subject it created, and each entity written."""

    namespace: str
    key: AuthKey | None = None
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.key is not None or bool(self.created or self.updated)

    def lines(self) -> list[str]:
        """What `wskadmin catalog install` prints."""
        out = []
        if self.key is not None:
            out.append(
                f"created subject {self.namespace} (namespace {self.namespace});"
                " its key, shown only this once:"
            )
            out.append(self.key.compact())
        out += [f"created {what}" for what in self.created]
        out += [f"updated {what}" for what in self.updated]
        if self.changed:
            out.append(
                f"ok: installed the catalog in /{self.namespace}: {len(self.created)} created,"
                f" {len(self.updated)} updated, {len(self.unchanged)} unchanged"
            )
        else:
            out.append(
                f"ok: catalog up to date ({len(self.unchanged)} entities in /{self.namespace})"
            )
        return out


async def ensure_subject(subjects: DocumentStore, namespace: str) -> AuthKey | None:
    """Make sure a subject owns `namespace`: the subject of that name, or any subject of the
    namespace. Creates the subject `namespace` when there is none and returns its new key."""
    doc = await subjects.get(namespace)
    if doc is not None and doc.body.get("entityType") == Identity.ENTITY_TYPE:
        return None
    if doc is not None:
        raise CatalogError(f"the subjects database holds '{namespace}' but not as a subject")
    if await subjects.query("namespaces", [namespace], limit=1):
        return None
    key = AuthKey.generate()
    await subjects.put(namespace, Identity.create(namespace, namespace, key).to_doc())
    return key


def _same(new: JsonObject, stored: JsonObject) -> bool:
    def strip(doc: JsonObject) -> JsonObject:
        return {k: v for k, v in doc.items() if k not in _VOLATILE}

    # Through JSON, as the stored document went: tuples become lists and so on.
    return bool(json.loads(json.dumps(strip(new))) == strip(stored))


def _check_collection(doc: Document | None, entity_type: str, what: str) -> None:
    if doc is not None and doc.body.get("entityType") != entity_type:
        raise CatalogError(f"{what} exists but is not a {entity_type}")


async def _write(
    whisks: DocumentStore,
    report: InstallReport,
    doc_id: str,
    new: JsonObject,
    doc: Document | None,
) -> None:
    """Create or update the document unless it would stay the same; note which it was."""
    what = f"{new['entityType']} /{doc_id}"
    if doc is not None and _same(new, doc.body):
        report.unchanged.append(what)
        return
    await whisks.put(doc_id, new, doc.rev if doc else None)
    (report.updated if doc is not None else report.created).append(what)


async def install(
    subjects: DocumentStore,
    whisks: DocumentStore,
    packages: list[CatalogPackage],
    namespace: str = SYSTEM_NAMESPACE,
    *,
    now_ms: int | None = None,
) -> InstallReport:
    """Install `packages` into `namespace` (creating its subject if needed); idempotent."""
    namespace = validate_namespace(namespace)
    updated_ms = int(time.time() * 1000) if now_ms is None else now_ms
    report = InstallReport(namespace)
    report.key = await ensure_subject(subjects, namespace)
    for package in packages:
        package_id = f"{namespace}/{package.name}"
        doc = await whisks.get(package_id)
        _check_collection(doc, Package.ENTITY_TYPE, f"/{package_id}")
        existing = Package.from_doc(doc.body) if doc is not None else None
        if existing is not None and existing.binding is not None:
            raise CatalogError(f"/{package_id} is a package binding, not a package")
        new_package = Package.from_api(
            package.put_body(),
            EntityPath((namespace,)),
            package.name,
            existing=existing,
            updated_ms=updated_ms,
        )
        await _write(whisks, report, package_id, new_package.to_doc(), doc)
        path = EntityPath((namespace, package.name))
        for action in package.actions:
            action_id = f"{package_id}/{action.name}"
            doc = await whisks.get(action_id)
            _check_collection(doc, Action.ENTITY_TYPE, f"/{action_id}")
            new_action = Action.from_api(
                action.put_body(),
                path,
                action.name,
                existing=Action.from_doc(doc.body) if doc is not None else None,
                updated_ms=updated_ms,
            )
            await _write(whisks, report, action_id, new_action.to_doc(), doc)
    return report
