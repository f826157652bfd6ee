#!/usr/bin/env bash
# Runs the tiers of `make test` several at a time, after `make test` has set up once:
#
#   scripts/test-all.sh [LANE...]      (a lane: "TIER TIER ..."; default: the lanes below)
#
# The tiers share nothing: the checks (lint, unit, integration) run on loopback and networks of
# their own, each molecule scenario, the three-host cluster and the dev box on hosts and Docker
# networks of their own. The lanes run at the same time; a lane runs its tiers one after the
# other, and `after:TIER` in a lane waits until TIER (of another lane) has ended. Each tier is
# its make target with WHISK_SETUP_DONE=1 (no set-up, no Docker clean-up of its own), its output
# in $WHISK_TEST_LOGS/tiers/<tier>.log; a line says when it starts and ends. At the end a table
# gives each tier's result and time (also in tiers.tsv) and the tail of each failed tier's log;
# the exit status is 1 if any tier failed.
#
# The lanes were chosen by measurement on 2 cores (README, "How long it takes here"). The
# deployment tiers are bound by CPU (molecule alone keeps 1.9 cores busy, the cluster 1.3); all
# of them beside the integration tests took that tier from 320 s to 840 s and failed two of its
# timing checks, while the integration tier itself mostly waits (0.7 cores busy). The cluster,
# the longest chain of steps, starts at once beside the integration tier (with lint and unit);
# molecule and the dev box, whose waits all have deadlines, start when the integration tier
# has ended.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=${WHISK_TEST_LOGS:-$ROOT/test-logs}/tiers
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log "$LOGS/tiers.tsv"

LANES=(
    "test-cluster"
    "test-integration test-molecule"
    "lint test-unit after:test-integration test-devbox"
)
if [ $# -gt 0 ]; then LANES=("$@"); fi

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

ended() { # ended TIER: TIER has its line in tiers.tsv
    [ -f "$LOGS/tiers.tsv" ] && cut -f1 "$LOGS/tiers.tsv" | grep -qx "$1"
}

run_lane() { # run_lane TARGET...: the tiers one after the other, whatever the earlier ones gave
    local tier
    for tier in "$@"; do
        if [[ $tier == after:* ]]; then
            # Only a tier some lane runs is waited for.
            case " ${LANES[*]} " in
                *" ${tier#after:} "*) until ended "${tier#after:}"; do sleep 2; done ;;
            esac
        else
            run_tier "$tier"
        fi
    done
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
echo "test: the tiers took $(($(date +%s) - start)) s"
echo "tiers: $((total - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} = 0 ]
