"""Where `make test`'s time goes: a report read from the logs one run left in test-logs/.

    .venv/bin/python bench/test_timings.py [--logs test-logs] [--save NAME]

It reads what the run wrote there and prints, and saves as bench/results/NAME.json:
- each tier's result and time (tiers/tiers.tsv, written by scripts/test-all.sh);
- each molecule scenario's time and the time of each of its steps (molecule/*.log, whose lines
  scripts/molecule-all.sh stamps with the time);
- every pytest check counted from the JUnit files (unit, integration, each scenario's
  testinfra, tests/infra, tests/upgrade): how many, and the slowest ones;
- the slowest Ansible tasks of every playbook run, from profile_tasks' lines (the logs of
  molecule's scenarios, of the cluster's site.yml and of the dev box's provisioning).
Nothing is measured here: the figures are those of the run that wrote the logs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d) ")
STEP = re.compile(r"➜ (\w+): Executing\b")
TASK = re.compile(r"^TASK \[(.*)\]")
# profile_tasks prints, as each task starts, the time the task before it took.
PROFILE = re.compile(r"\((\d+):(\d\d):(\d\d\.\d+)\)\s+\d+:\d\d:\d\d\.\d+")
SLOWEST = 25


def clean(line: str) -> str:
    return ANSI.sub("", line).replace("│", "").strip()


def tiers(logs: Path) -> list[dict[str, Any]]:
    table = logs / "tiers" / "tiers.tsv"
    if not table.exists():
        return []
    rows = []
    for line in table.read_text().splitlines():
        tier, result, took, log = line.split("\t")
        rows.append({"tier": tier, "result": result, "seconds": int(took), "log": log})
    return rows


def seconds_of(stamp: re.Match[str]) -> int:
    hours, minutes, secs = (int(part) for part in stamp.groups())
    return hours * 3600 + minutes * 60 + secs


def scenario_steps(log: Path) -> dict[str, Any]:
    """The scenario's steps in order with their times, from the stamped lines."""
    steps: list[dict[str, Any]] = []
    first = last = None
    for raw in log.read_text(errors="replace").splitlines():
        stamp = STAMP.match(raw)
        if not stamp:
            continue
        now = seconds_of(stamp)
        if first is None:
            first = now
        if now < (last or now):  # past midnight
            now += 86400
        last = now
        step = STEP.search(clean(raw))
        if step and (not steps or steps[-1]["step"] != step.group(1)):
            steps.append({"step": step.group(1), "start": now})
    for this, after in zip(steps, [*steps[1:], None], strict=True):
        end = after["start"] if after else (last or this["start"])
        this["seconds"] = end - this.pop("start")
    return {
        "scenario": log.stem.replace("-", "/", 1),
        "seconds": (last - first) if first is not None and last is not None else None,
        "steps": steps,
    }


def junit_cases(logs: Path) -> Iterator[tuple[str, str, float, str]]:
    """(file, test id, seconds, outcome) of every test case in the run's JUnit files."""
    for path in sorted(logs.rglob("*.xml")):
        try:
            tree = ET.parse(path)  # noqa: S314 (the run's own files)
        except ET.ParseError:
            continue
        for case in tree.iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped":
                    outcome = "skipped"
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            yield path.relative_to(logs).as_posix(), name, float(case.get("time", 0)), outcome


def checks(logs: Path) -> dict[str, Any]:
    per_file: dict[str, dict[str, int]] = {}
    cases = list(junit_cases(logs))
    for file, _, _, outcome in cases:
        counts = per_file.setdefault(file, {"passed": 0, "failed": 0, "skipped": 0})
        counts[outcome] += 1
    slowest = sorted(cases, key=lambda case: case[2], reverse=True)[:SLOWEST]
    return {
        "total": {
            outcome: sum(counts[outcome] for counts in per_file.values())
            for outcome in ("passed", "failed", "skipped")
        },
        "per_file": per_file,
        "slowest": [
            {"file": file, "test": name, "seconds": round(took, 2)}
            for file, name, took, _ in slowest
        ],
    }


def ansible_tasks(logs: Path) -> list[dict[str, Any]]:
    """The slowest tasks of every Ansible log (a molecule scenario, site.yml, the dev box)."""
    found: list[dict[str, Any]] = []
    for log in sorted(logs.rglob("*.log")):
        if log.parent.name == "tiers":  # a tier's log repeats the playbook logs it tees
            continue
        task = pending = None
        for raw in log.read_text(errors="replace").splitlines():
            line = STAMP.sub("", clean(raw))
            named = TASK.match(line)
            if named:
                pending = task
                task = named.group(1)
                continue
            took = PROFILE.search(line)
            if took and pending:
                hours, minutes, secs = took.groups()
                seconds = int(hours) * 3600 + int(minutes) * 60 + float(secs)
                found.append(
                    {"log": log.relative_to(logs).as_posix(), "task": pending, "seconds": seconds}
                )
                pending = None
    found.sort(key=lambda row: row["seconds"], reverse=True)
    return [{**row, "seconds": round(row["seconds"], 1)} for row in found[:SLOWEST]]


def report(logs: Path) -> dict[str, Any]:
    molecule = sorted(
        (scenario_steps(log) for log in (logs / "molecule").glob("*.log")),
        key=lambda row: row["seconds"] or 0,
        reverse=True,
    )
    return {
        "tiers": tiers(logs),
        "molecule": molecule,
        "checks": checks(logs),
        "slowest_ansible_tasks": ansible_tasks(logs),
    }


def show(result: dict[str, Any]) -> None:
    for row in result["tiers"]:
        print(f"tier      {row['tier']:<22} {row['result']:<7} {row['seconds']:5d} s")
    for row in result["molecule"]:
        steps = ", ".join(f"{step['step']} {step['seconds']}" for step in row["steps"])
        print(f"scenario  {row['scenario']:<22} {row['seconds'] or 0:5d} s  ({steps})")
    total = result["checks"]["total"]
    passed, failed, skipped = total["passed"], total["failed"], total["skipped"]
    print(f"checks    {passed} passed, {failed} failed, {skipped} skipped")
    for file, counts in sorted(result["checks"]["per_file"].items()):
        print(f"  {file:<40} {counts['passed']:4d} passed")
    print("slowest checks:")
    for row in result["checks"]["slowest"]:
        print(f"  {row['seconds']:7.1f} s  {row['file']}  {row['test']}")
    print("slowest Ansible tasks:")
    for row in result["slowest_ansible_tasks"]:
        print(f"  {row['seconds']:7.1f} s  {row['log']}  {row['task']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, default=ROOT / "test-logs")
    parser.add_argument("--save", help="save the report as bench/results/NAME.json")
    args = parser.parse_args(argv)
    result = report(args.logs)
    show(result)
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{args.save}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"saved bench/results/{args.save}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
