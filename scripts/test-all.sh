#!/usr/bin/env bash
# Runs the tiers of `make test` in phases, several at a time, after `make test` has set up once:
#
#   scripts/test-all.sh ["LANE|LANE..." ...]     (default: the phases below)
#
# The tiers share nothing: the checks (lint, unit, integration) run on loopback and networks of
# their own, each molecule scenario, the three-host cluster and the dev box on hosts and Docker
# networks of their own. A phase is a set of lanes run at the same time; a lane runs its tiers
# one after the other; the phases run one after the other. Each tier is its make target with
# WHISK_SETUP_DONE=1 (no set-up, no Docker clean-up of its own), its output in
# $WHISK_TEST_LOGS/tiers/<tier>.log; a line says when it starts and ends. At the end a table
# gives each tier's result and time (also in tiers.tsv) and the tail of each failed tier's log;
# the exit status is 1 if any tier failed.
#
# The phases were chosen by measurement on 2 cores (README, "How long it takes here"). The
# deployment tiers are bound by CPU (molecule alone keeps 1.9 cores busy, the cluster 1.3), so
# running them beside the integration tests only slows both: the integration tier, which
# mostly waits (0.7 cores) and holds timing checks, runs first beside lint and unit alone; then
# molecule, the cluster and the dev box, whose waits all have deadlines, share the machine.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=${WHISK_TEST_LOGS:-$ROOT/test-logs}/tiers
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log "$LOGS/tiers.tsv"

PHASES=(
    "test-integration|lint test-unit"
    "test-cluster|test-molecule|test-devbox"
)
if [ $# -gt 0 ]; then PHASES=("$@"); fi

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

run_phase() { # run_phase "LANE|LANE...": the lanes at the same time, until all have ended
    local lane pids=() lanes
    IFS='|' read -r -a lanes <<<"$1"
    for lane in "${lanes[@]}"; do
        # shellcheck disable=SC2086 # a lane is a list of targets
        run_lane $lane &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
}

start=$(date +%s)
for phase in "${PHASES[@]}"; do run_phase "$phase"; done

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
echo "test: the tiers took $(($(date +%s) - start)) s"
echo "tiers: $((total - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} = 0 ]
