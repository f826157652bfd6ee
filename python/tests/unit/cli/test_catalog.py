"""`wskadmin catalog install` against in-memory databases: what it writes, and that a second
run writes nothing."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.cli import wskadmin
from whisk_services.cli.catalog import (
    ACTION_KIND,
    CATALOG_DIR_ENV,
    CatalogError,
    default_catalog_dir,
    install,
    load_catalog,
)
from whisk_services.model.entities import Action, Package
from whisk_services.model.identity import AuthKey, Identity
from whisk_services.ports.databases import SUBJECTS_INDEXES, WHISKS_INDEXES
from whisk_services.ports.documents import DocumentStore

REPO_CATALOG = Path(__file__).resolve().parents[4] / "catalog"
UTILS = ("cat", "date", "echo", "head", "hosturl", "namespace", "smash", "sort", "split")


class Databases:
    """The two databases the installer touches, in memory, opened as wskadmin opens them."""

    def __init__(self) -> None:
        self.subjects = MemoryDocumentStore("subjects")
        self.whisks = MemoryDocumentStore("whisks")

    async def open(
        self,
    ) -> tuple[Callable[[str], DocumentStore], Callable[[], Awaitable[None]]]:
        stores: dict[str, DocumentStore] = {"subjects": self.subjects, "whisks": self.whisks}

        async def close() -> None:
            pass

        return stores.__getitem__, close

    def admin(self, *argv: str) -> int:
        return asyncio.run(wskadmin._main(list(argv), self.open))


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of the repository's catalog, free to change."""
    copy = tmp_path / "catalog"
    shutil.copytree(REPO_CATALOG, copy)
    return copy


def test_the_default_catalog_is_the_repositorys_unless_the_environment_names_one(
    tmp_path: Path,
) -> None:
    assert default_catalog_dir({}) == REPO_CATALOG
    assert default_catalog_dir({CATALOG_DIR_ENV: str(tmp_path)}) == tmp_path


def test_the_repository_catalog_has_every_utility_with_its_annotations() -> None:
    [utils] = load_catalog(REPO_CATALOG)
    assert utils.name == "utils"
    assert tuple(a.name for a in utils.actions) == UTILS
    for action in utils.actions:
        assert action.code.startswith(f"// {action.name}: "), "a header comment says what it does"
        assert "function main(" in action.code
        assert action.description
        assert all({"name", "description"} <= set(p) for p in action.parameters)


def test_install_creates_the_subject_the_public_package_and_every_action(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dbs = Databases()
    assert dbs.admin("catalog", "install", "--catalog-dir", str(catalog)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "created subject whisk.system (namespace whisk.system); its key, shown only this once:"
    )
    key = AuthKey.parse(out[1])
    assert out[2] == "created package /whisk.system/utils"
    assert out[3:-1] == [f"created action /whisk.system/utils/{name}" for name in UTILS]
    assert (
        out[-1] == "ok: installed the catalog in /whisk.system: 10 created, 0 updated, 0 unchanged"
    )

    async def check() -> None:
        subject = await dbs.subjects.get("whisk.system")
        assert subject is not None
        identity = Identity.from_doc(subject.body)
        assert (identity.namespace, identity.uuid) == ("whisk.system", key.uuid)
        assert identity.authenticates(key)
        package_doc = await dbs.whisks.get("whisk.system/utils")
        assert package_doc is not None
        package = Package.from_doc(package_doc.body)
        assert package.publish is True
        assert package.binding is None
        assert package.annotations.get("description")
        public = await dbs.whisks.query("packages-public", ["whisk.system"])
        assert [d.id for d in public] == ["whisk.system/utils"]
        for name in UTILS:
            doc = await dbs.whisks.get(f"whisk.system/utils/{name}")
            assert doc is not None
            action = Action.from_doc(doc.body)
            assert action.exec.kind == ACTION_KIND
            assert (
                action.exec.to_api(True)["code"] == (catalog / "utils" / f"{name}.js").read_text()
            )
            assert str(action.version) == "0.0.1"
            annotations = action.annotations.to_dict()
            assert set(annotations) == {"description", "parameters", "provide-api-key", "exec"}
            assert annotations["exec"] == ACTION_KIND
            assert annotations["provide-api-key"] is False

    asyncio.run(check())


def test_the_documents_are_those_the_controllers_put_writes(catalog: Path) -> None:
    async def go() -> None:
        subjects, whisks = MemoryDocumentStore(), MemoryDocumentStore()
        await subjects.ensure(SUBJECTS_INDEXES)
        await whisks.ensure(WHISKS_INDEXES)
        [utils] = load_catalog(catalog)
        await install(subjects, whisks, [utils], now_ms=1234)
        echo = next(a for a in utils.actions if a.name == "echo")
        doc = await whisks.get("whisk.system/utils/echo")
        assert doc is not None
        # What PUT /namespaces/whisk.system/actions/utils/echo with the same body stores.
        expected = Action.from_api(
            echo.put_body(), Action.from_doc(doc.body).path, "echo", updated_ms=1234
        )
        assert doc.body == expected.to_doc()
        assert doc.body["namespace"] == "whisk.system/utils"

    asyncio.run(go())


def test_a_second_install_changes_nothing(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dbs = Databases()
    assert dbs.admin("catalog", "install", "--catalog-dir", str(catalog)) == 0
    capsys.readouterr()

    async def revisions() -> dict[str, str]:
        found = {}
        for store in (dbs.subjects, dbs.whisks):
            changes = await store.changes(0)
            for doc_id in changes.ids:
                doc = await store.get(doc_id)
                assert doc is not None
                found[doc_id] = doc.rev
        return found

    before = asyncio.run(revisions())
    assert dbs.admin("catalog", "install", "--catalog-dir", str(catalog)) == 0
    assert capsys.readouterr().out == "ok: catalog up to date (10 entities in /whisk.system)\n"
    assert asyncio.run(revisions()) == before


def test_a_changed_file_or_description_is_updated_and_only_that(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dbs = Databases()
    assert dbs.admin("catalog", "install", "--catalog-dir", str(catalog)) == 0
    capsys.readouterr()
    echo = catalog / "utils" / "echo.js"
    echo.write_text(echo.read_text() + "// changed\n")
    manifest_path = catalog / "utils" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["package"]["description"] = "another description"
    manifest_path.write_text(json.dumps(manifest))
    assert dbs.admin("catalog", "install", "--catalog-dir", str(catalog)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "updated package /whisk.system/utils",
        "updated action /whisk.system/utils/echo",
        "ok: installed the catalog in /whisk.system: 0 created, 2 updated, 8 unchanged",
    ]

    async def check() -> None:
        doc = await dbs.whisks.get("whisk.system/utils/echo")
        assert doc is not None
        action = Action.from_doc(doc.body)
        assert action.exec.to_api(True)["code"].endswith("// changed\n")
        assert str(action.version) == "0.0.2"
        assert action.annotations.get("provide-api-key") is False
        package_doc = await dbs.whisks.get("whisk.system/utils")
        assert package_doc is not None
        package = Package.from_doc(package_doc.body)
        assert package.annotations.get("description") == "another description"
        assert package.publish is True
        cat = await dbs.whisks.get("whisk.system/utils/cat")
        assert cat is not None
        assert cat.body["version"] == "0.0.1"

    asyncio.run(check())


def test_an_existing_subject_is_kept_and_no_key_printed(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dbs = Databases()
    assert dbs.admin("user", "create", "operator", "--namespace", "tools") == 0
    capsys.readouterr()
    assert dbs.admin("catalog", "install", "-ns", "tools", "--catalog-dir", str(catalog)) == 0
    out = capsys.readouterr().out
    assert "key" not in out
    assert out.splitlines()[0] == "created package /tools/utils"
    assert asyncio.run(dbs.subjects.get("tools")) is None


def test_a_broken_catalog_is_refused_before_anything_is_written(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (catalog / "utils" / "extra.js").write_text("function main() { return {}; }\n")
    dbs = Databases()
    assert dbs.admin("catalog", "install", "--catalog-dir", str(catalog)) == 1
    assert "files without an entry: extra" in capsys.readouterr().err
    assert asyncio.run(dbs.subjects.get("whisk.system")) is None
    with pytest.raises(CatalogError, match="no catalog directory"):
        load_catalog(catalog / "absent")
