#!/usr/bin/env bash
# Runs every molecule scenario of every role (roles/*/molecule/*), a few at a time, each with
# its own log in $WHISK_TEST_LOGS/molecule/, and prints one line per scenario with its time:
#
#   scripts/molecule-all.sh [ROLE/SCENARIO...]      (default: all of them)
#
# WHISK_MOLECULE_JOBS scenarios run side by side (default 4: a box spends most of its time
# waiting on Ansible's round trips, so 4 fill 2 cores). Exits 1 if any scenario failed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=${WHISK_TEST_LOGS:-$ROOT/test-logs}/molecule
JOBS=${WHISK_MOLECULE_JOBS:-4}
mkdir -p "$LOGS"

# The longest scenarios start first, so that none of them is left running alone at the end.
LONGEST_FIRST=(kafka/cluster kafka/default nginx/default consul/acl)

scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    for scenario in "${LONGEST_FIRST[@]}"; do
        [ -d "$ROOT/roles/${scenario%%/*}/molecule/${scenario##*/}" ] && scenarios+=("$scenario")
    done
    for dir in "$ROOT"/roles/*/molecule/*/; do
        dir=${dir%/}
        scenario="$(basename "$(dirname "$(dirname "$dir")")")/$(basename "$dir")"
        [[ " ${LONGEST_FIRST[*]} " == *" $scenario "* ]] || scenarios+=("$scenario")
    done
fi

run_one() {
    local role=${1%%/*} scenario=${1##*/} start status=0
    set -o pipefail # xargs runs this in a new bash: the scenario's status, not awk's
    start=$(date +%s)
    # Each line stamped with the time, from which bench/test_timings.py reads each step's.
    bash "$ROOT/scripts/molecule.sh" "$role" "$scenario" 2>&1 |
        awk '{ print strftime("%H:%M:%S"), $0; fflush() }' >"$LOGS/$role-$scenario.log" ||
        status=$?
    printf 'molecule: %-28s %s in %4d s (log: %s)\n' "$1" \
        "$([ $status = 0 ] && echo passed || echo FAILED)" "$(( $(date +%s) - start ))" \
        "$LOGS/$role-$scenario.log"
    return $status
}
export -f run_one
export ROOT LOGS

start=$(date +%s)
status=0
printf '%s\n' "${scenarios[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {} || status=$?
echo "molecule: ${#scenarios[@]} scenarios in $(( $(date +%s) - start )) s ($JOBS at a time)"
exit $status
