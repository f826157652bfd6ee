"""Checks every role's interface: the keys of `defaults/main.yml` and of the `main` entry
point of `meta/argument_specs.yml` are the same set, each spec option has a type and a
description, and each spec default equals the value in `defaults/main.yml`.

Run by `make lint`; prints one line per disagreement and exits 1 if there is any.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROLES = Path(__file__).resolve().parent.parent / "roles"


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text())
    return data if isinstance(data, dict) else {}


def check_role(role: Path) -> list[str]:
    problems: list[str] = []
    defaults = load(role / "defaults" / "main.yml")
    specs_file = role / "meta" / "argument_specs.yml"
    if not specs_file.exists():
        return [f"{role.name}: meta/argument_specs.yml is missing"]
    options = load(specs_file).get("argument_specs", {}).get("main", {}).get("options", {})
    for name in sorted(set(defaults) - set(options)):
        problems.append(f"{role.name}: {name} is in defaults/main.yml but not in argument_specs")
    for name in sorted(set(options) - set(defaults)):
        spec = options[name] or {}
        if not spec.get("required", False):
            problems.append(
                f"{role.name}: {name} is in argument_specs but has no default in defaults/main.yml"
            )
    for name, given in sorted(options.items()):
        spec = given or {}
        if "type" not in spec:
            problems.append(f"{role.name}: {name} has no type in argument_specs")
        if not spec.get("description"):
            problems.append(f"{role.name}: {name} has no description in argument_specs")
        if name in defaults and "default" in spec and spec["default"] != defaults[name]:
            problems.append(
                f"{role.name}: {name} defaults to {defaults[name]!r} but argument_specs says "
                f"{spec['default']!r}"
            )
        if not name.startswith(f"{role.name}_"):
            problems.append(f"{role.name}: {name} does not carry the role prefix {role.name}_")
    return problems


def main() -> int:
    roles = sorted(p for p in ROLES.iterdir() if (p / "tasks").is_dir())
    problems = [problem for role in roles for problem in check_role(role)]
    for problem in problems:
        print(problem)
    print(f"check_role_specs: {len(roles)} roles, {len(problems)} disagreement(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
