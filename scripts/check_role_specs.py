"""Checks every role's interface: the keys of `defaults/main.yml` and of the `main` entry
point of `meta/argument_specs.yml` are the same set, each spec option has a type and a
description, and each spec default equals the value in `defaults/main.yml`. Also: the
platform's version that the roles and `playbooks/group_vars/all/whisk.yml` default to is the
package's (`python/pyproject.toml`), so a deployment runs the images `make images` builds.

Run by `make lint`; prints one line per disagreement and exits 1 if there is any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "roles"
# The variables that name the version of the platform's own images.
VERSION_VARIABLES = {
    "controller": "controller_version",
    "invoker": "invoker_version",
    "registrator": "registrator_version",
    "catalog": "catalog_controller_version",
}


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


def check_versions() -> list[str]:
    """The version defaults agree with the package's version."""
    found = re.search(
        r'^version = "([^"]+)"', (ROOT / "python" / "pyproject.toml").read_text(), re.M
    )
    package = found.group(1) if found else "?"
    problems: list[str] = []
    for role, variable in VERSION_VARIABLES.items():
        value = load(ROLES / role / "defaults" / "main.yml").get(variable)
        if value != package:
            problems.append(f"{role}: {variable} defaults to {value!r}, the package is {package!r}")
    playbooks = load(ROOT / "playbooks" / "group_vars" / "all" / "whisk.yml")
    for variable in VERSION_VARIABLES.values():
        expected = f"{{{{ whisk_version | default('{package}') }}}}"
        if playbooks.get(variable) != expected:
            problems.append(
                f"playbooks/group_vars/all/whisk.yml: {variable} should be {expected!r}, "
                f"is {playbooks.get(variable)!r}"
            )
    return problems


def main() -> int:
    roles = sorted(p for p in ROLES.iterdir() if (p / "tasks").is_dir())
    problems = [problem for role in roles for problem in check_role(role)] + check_versions()
    for problem in problems:
        print(problem)
    print(f"check_role_specs: {len(roles)} roles, {len(problems)} disagreement(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
