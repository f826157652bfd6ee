#!/usr/bin/env bash
# Runs the tiers of `make test` several at a time, after `make test` has set up once:
#
#   scripts/test-all.sh [TIER...]        (default: every tier, in the lanes below)
#
# The tiers share nothing: the checks (lint, unit, integration) run on loopback and networks of
# their own, each molecule scenario, the three-host cluster and the dev box on hosts and Docker
# networks of their own. A lane runs its tiers one after the other; the lanes run at the same
# time. Each tier is its make target with WHISK_SETUP_DONE=1 (no set-up, no Docker clean-up of
# its own), its output in $WHISK_TEST_LOGS/tiers/<tier>.log; a line says when it starts and
# ends. At the end a table gives each tier's result and time (also in tiers.tsv) and the tail of
# each failed tier's log; the exit status is 1 if any tier failed.
#
# The lanes were chosen by measurement (README, "How long it takes here"): the cluster is the
# longest tier, so it starts at once in a lane of its own; molecule and then the dev box fill a
# second; the checks a third.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=${WHISK_TEST_LOGS:-$ROOT/test-logs}/tiers
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log "$LOGS/tiers.tsv"

LANES=(
    "test-cluster"
    "test-molecule test-devbox"
    "lint test-unit test-integration"
)
if [ $# -gt 0 ]; then LANES=("$*"); fi

run_tier() { # run_tier TARGET: one tier, its log, its line in tiers.tsv
    local tier=$1 start status=0 took
    start=$(date +%s)
    echo "test: $tier started"
    make -C "$ROOT" --no-print-directory WHISK_SETUP_DONE=1 "$tier" >"$LOGS/$tier.log" 2>&1 || status=$?
    took=$(($(date +%s) - start))
    printf '%s\t%s\t%s\t%s\n' "$tier" "$([ $status = 0 ] && echo passed || echo FAILED)" "$took" \
        "$LOGS/$tier.log" >>"$LOGS/tiers.tsv"
    echo "test: $tier $([ $status = 0 ] && echo passed || echo FAILED) in $took s"
}

run_lane() { # run_lane TARGET...: the tiers one after the other, whatever the earlier ones gave
    local tier
    for tier in "$@"; do run_tier "$tier"; done
}

start=$(date +%s)
pids=()
for lane in "${LANES[@]}"; do
    # shellcheck disable=SC2086 # a lane is a list of targets
    run_lane $lane &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

echo
echo "test: tier                  result  time  log"
failed=()
while IFS=$'\t' read -r tier result took log; do
    printf 'test: %-21s %-7s %4d s  %s\n' "$tier" "$result" "$took" "$log"
    [ "$result" = passed ] || failed+=("$tier")
done <"$LOGS/tiers.tsv"
for tier in "${failed[@]}"; do
    echo
    echo "test: the end of $tier's log ($LOGS/$tier.log):"
    tail -n 40 "$LOGS/$tier.log" | sed 's/^/    /'
done
total=$(wc -l <"$LOGS/tiers.tsv")
echo
echo "test: the tiers took $(($(date +%s) - start)) s side by side"
echo "tiers: $((total - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} = 0 ]
