#!/usr/bin/env bash
# Thaws the frozen (paused) containers of the Docker Engines nested in the project's test
# hosts, so that those hosts can be removed:
#
#   scripts/thaw-nested.sh [BOX...]
#
# A box (molecule, the local cluster, the Vagrant dev box) shares this machine's cgroup tree
# (--cgroupns=host), so the invoker's paused action containers inside it are frozen cgroups
# of this machine's freezer hierarchy. Their processes cannot die while frozen: `docker rm -f`
# of the box then never finishes. With BOX names, only the containers of those boxes' own
# engines are thawed (other tiers' boxes may be running beside them, make test runs tiers at
# once); without, every frozen freezer cgroup that is not a container of this machine's own
# engine is (what `make docker-clean` does before anything runs). This machine's paused
# containers are always left as they are.
set -euo pipefail
root=/sys/fs/cgroup/freezer
[ -d "$root" ] || exit 0 # cgroup v2: nothing to thaw this way
own=$(docker ps -q --no-trunc --filter status=paused 2>/dev/null || true)
thawed=0
thaw() { # thaw STATE_FILE: sets one frozen cgroup THAWED unless it is one of this machine's
    local dir
    dir=$(dirname "$1")
    [ "$(cat "$1" 2>/dev/null)" = FROZEN ] || return 0
    case " $own " in *" $(basename "$dir") "*) return 0 ;; esac
    echo THAWED >"$1" 2>/dev/null && thawed=$((thawed + 1))
}
if [ $# -gt 0 ]; then
    # The nested engines name their containers by their full ids, as the cgroups are named.
    nested=" "
    for box in "$@"; do
        nested+="$(timeout 20 docker exec "$box" docker ps -aq --no-trunc 2>/dev/null | tr '\n' ' ' || true)"
    done
    while IFS= read -r state; do
        case "$nested" in *" $(basename "$(dirname "$state")") "*) thaw "$state" ;; esac
    done < <(find "$root" -mindepth 2 -name freezer.state 2>/dev/null)
else
    while IFS= read -r state; do thaw "$state"; done < <(
        find "$root" -mindepth 2 -name freezer.state 2>/dev/null)
fi
[ $thawed = 0 ] || echo "thaw-nested: thawed $thawed frozen cgroup(s) of nested engines"
