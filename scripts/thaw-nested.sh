#!/usr/bin/env bash
# Thaws the frozen (paused) containers of the Docker Engines nested in the project's test
# hosts, so that those hosts can be removed:
#
#   scripts/thaw-nested.sh
#
# A box (molecule, the local cluster, the Vagrant dev box) shares this machine's cgroup tree
# (--cgroupns=host), so the invoker's paused action containers inside it are frozen cgroups
# of this machine's freezer hierarchy. Their processes cannot die while frozen: `docker rm -f`
# of the box then never finishes. Every frozen freezer cgroup that is not a container of this
# machine's own engine is set THAWED; this machine's paused containers are left as they are.
set -euo pipefail
root=/sys/fs/cgroup/freezer
[ -d "$root" ] || exit 0 # cgroup v2: nothing to thaw this way
own=$(docker ps -q --no-trunc --filter status=paused 2>/dev/null || true)
thawed=0
while IFS= read -r state; do
    dir=$(dirname "$state")
    [ "$(cat "$state" 2>/dev/null)" = FROZEN ] || continue
    case " $own " in *" $(basename "$dir") "*) continue ;; esac
    echo THAWED >"$state" 2>/dev/null && thawed=$((thawed + 1))
done < <(find "$root" -mindepth 2 -name freezer.state 2>/dev/null)
[ $thawed = 0 ] || echo "thaw-nested: thawed $thawed frozen cgroup(s) of nested engines"
