"""How much CPU a command costs the whole machine, and how much of it ran in containers.

    .venv/bin/python bench/cpu_split.py COMMAND [ARG...]

Runs COMMAND and prints, when it ends, its wall time, the machine's busy CPU time over it
(/proc/stat: every process, the command's or not, so run it on a quiet machine) and the part
of that spent in Docker's containers: the test hosts (molecule's boxes, the cluster, the dev
box), the engines nested in them and their containers, and the action containers, sampled
each second from the cgroup v1 cpuacct hierarchy (a container that lives less than a second
may be missed). The rest ran on the machine itself: Ansible, molecule, pytest, the integration
tier's servers, Docker Engine. Exits with the command's status. This is how the README's
"How long it takes here" figures in core-seconds were taken.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

DOCKER_CGROUPS = Path("/sys/fs/cgroup/cpuacct/docker")
TICKS_PER_S = 100  # USER_HZ on Linux


def busy_s() -> float:
    """Busy CPU seconds of the machine since boot (all but idle and iowait)."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS_PER_S


def sample(seen: dict[Path, int]) -> None:
    """The highest CPU time (ns) seen so far of each container's cgroup."""
    for usage in DOCKER_CGROUPS.glob("*/cpuacct.usage"):
        try:
            seen[usage] = max(seen.get(usage, 0), int(usage.read_text()))
        except (OSError, ValueError):
            continue  # the container went away between the listing and the read


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    seen: dict[Path, int] = {}
    sample(seen)
    before = dict(seen)
    busy_before, started = busy_s(), time.monotonic()
    command = subprocess.Popen(argv)
    while command.poll() is None:
        sample(seen)
        time.sleep(1)
    sample(seen)
    wall, busy = time.monotonic() - started, busy_s() - busy_before
    in_containers = sum(ns - before.get(path, 0) for path, ns in seen.items()) / 1e9
    print(
        f"cpu_split: wall {wall:.0f} s, busy {busy:.0f} core-s ({busy / wall:.2f} cores): "
        f"{in_containers:.0f} in containers, {busy - in_containers:.0f} on the machine",
        flush=True,
    )
    return command.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
