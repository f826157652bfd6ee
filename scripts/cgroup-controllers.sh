#!/usr/bin/env bash
# Mounts, on this machine, every cgroup v1 controller the kernel has but no hierarchy of
# this mount namespace carries (here: net_cls,net_prio, hugetlb, perf_event):
#
#   scripts/cgroup-controllers.sh        (run by scripts/prereqs.sh; idempotent)
#
# Why: the test hosts (molecule boxes, the local cluster, the Vagrant dev box) run systemd
# on this machine's cgroup tree (--cgroupns=host). Finding a controller unmounted, their
# systemd mounts a new hierarchy for it; every process of the machine then lists that
# hierarchy in /proc/<pid>/cgroup, containerd's shim can no longer load a container's
# cgroups ("cannot find cgroup mount destination") and stops watching for OOM kills, so
# Docker's State.OOMKilled stays false and the invoker cannot tell an action ran out of
# memory. With every controller mounted here first, the boxes find them and add none.
set -euo pipefail
root=/sys/fs/cgroup
# cgroup v2 only (no v1 hierarchies): nothing to do.
[ -d "$root/memory" ] || exit 0
mounted=$(awk '$3 == "cgroup" { print $4 }' /proc/mounts | tr ',' '\n' | sort -u)
missing=()
while read -r name _hierarchy _cgroups enabled; do
    [ "$enabled" = 1 ] || continue
    grep -qx "$name" <<<"$mounted" || missing+=("$name")
done < <(grep -v '^#' /proc/cgroups)
[ ${#missing[@]} -gt 0 ] || exit 0
# net_cls and net_prio share one hierarchy, as systemd and Docker expect.
groups=()
for name in "${missing[@]}"; do
    case $name in
        net_cls | net_prio) [[ " ${groups[*]:-} " == *" net_cls,net_prio "* ]] || groups+=(net_cls,net_prio) ;;
        *) groups+=("$name") ;;
    esac
done
remounted=0
if ! touch "$root/.whisk-probe" 2>/dev/null; then
    mount -o remount,rw "$root"
    remounted=1
else
    rm -f "$root/.whisk-probe"
fi
for group in "${groups[@]}"; do
    mkdir -p "$root/$group"
    mount -t cgroup -o "$group" cgroup "$root/$group"
    echo "cgroup-controllers: mounted $group at $root/$group"
done
[ $remounted = 0 ] || mount -o remount,ro "$root"
