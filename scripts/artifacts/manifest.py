#!/usr/bin/env python3
"""Write, check and merge the manifests of staged artifacts.

A component manifest (``<name>/<version>.json`` beside the staged directory) records the
component's name, version, where it came from, the hash of the inputs that staged it, and the
sha256 and size of every file in it. ``merge`` gathers every component manifest into the
artifact directory's ``manifest.json``; ``verify`` re-hashes the files against it.
Standard library only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def file_entries(root: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink():
                entries.append({"path": str(path.relative_to(root)), "symlink": os.readlink(path)})
                continue
            entries.append(
                {
                    "path": str(path.relative_to(root)),
                    "sha256": sha256_of(path),
                    "size": path.stat().st_size,
                }
            )
    return entries


def write_component(args: argparse.Namespace) -> int:
    root = Path(args.directory).resolve()
    manifest = {
        "name": args.name,
        "version": args.version,
        "source": args.source,
        "inputs": args.inputs,
        "path": str(root),
        "files": file_entries(root),
    }
    target = root.parent / f"{root.name}.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(target)
    return 0


def check_component(args: argparse.Namespace) -> int:
    try:
        manifest = json.loads(Path(args.manifest).read_text())
    except (OSError, ValueError):
        return 1
    return 0 if manifest.get("inputs") == args.inputs else 1


def merge(args: argparse.Namespace) -> int:
    root = Path(args.artifacts)
    components = []
    for path in sorted(root.glob("*/*.json")):
        data = json.loads(path.read_text())
        if {"name", "version", "files"} <= data.keys():
            components.append(data)
    wanted = set(args.require or [])
    present = {c["name"] for c in components}
    if missing := wanted - present:
        print(f"manifest: not staged: {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    text = json.dumps({"components": components}, indent=1) + "\n"
    target = root / "manifest.json"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    for c in components:
        print(f"  {c['name']:<16} {c['version']:<10} {len(c['files']):>6} files  {c['source']}")
    return 0


def verify(args: argparse.Namespace) -> int:
    data = json.loads((Path(args.artifacts) / "manifest.json").read_text())
    bad = 0
    for component in data["components"]:
        root = Path(component["path"])
        for entry in component["files"]:
            if "sha256" not in entry:
                continue
            path = root / entry["path"]
            if not path.is_file() or sha256_of(path) != entry["sha256"]:
                print(f"manifest: {component['name']}: {entry['path']} differs", file=sys.stderr)
                bad += 1
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    comp = sub.add_parser("component", help="write the manifest of one staged directory")
    comp.add_argument("directory")
    comp.add_argument("--name", required=True)
    comp.add_argument("--version", required=True)
    comp.add_argument("--source", required=True)
    comp.add_argument("--inputs", required=True)
    comp.set_defaults(func=write_component)

    chk = sub.add_parser("check", help="exit 0 when a manifest records these inputs")
    chk.add_argument("manifest")
    chk.add_argument("--inputs", required=True)
    chk.set_defaults(func=check_component)

    mrg = sub.add_parser("merge", help="write manifest.json from every component manifest")
    mrg.add_argument("artifacts")
    mrg.add_argument("--require", nargs="*")
    mrg.set_defaults(func=merge)

    ver = sub.add_parser("verify", help="re-hash every file listed in manifest.json")
    ver.add_argument("artifacts")
    ver.set_defaults(func=verify)

    args = parser.parse_args()
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
