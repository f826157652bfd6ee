#!/usr/bin/env bash
# Shared by the scripts that drive a deployment (scripts/cluster.sh, scripts/devbox.sh);
# sourced, not run. The sourcing script sets STEPS_PREFIX (e.g. "cluster") for its lines.
#
#   phase NAME COMMAND...   runs COMMAND, printing NAME as it starts and its elapsed time
#   recap_unchanged LOG     the play recap in LOG exists and every host in it reports
#                           changed=0, failed=0 and unreachable=0

phase() {
    local name=$1 start
    shift
    echo "$STEPS_PREFIX: $name"
    start=$(date +%s)
    "$@"
    echo "$STEPS_PREFIX: $name took $(($(date +%s) - start)) s"
}

recap_unchanged() {
    local recap
    recap=$(sed -n '/PLAY RECAP/,$p' "$1" | grep -E 'ok=[0-9]+' || true)
    if [ -z "$recap" ]; then
        echo "$STEPS_PREFIX: no play recap in $1" >&2
        return 1
    fi
    if grep -qE 'changed=[1-9]|failed=[1-9]|unreachable=[1-9]' <<<"$recap"; then
        echo "$STEPS_PREFIX: $(basename "$1") reports changes or failures:" >&2
        echo "$recap" >&2
        return 1
    fi
    echo "$STEPS_PREFIX: $(basename "$1"): changed=0 on every host"
}
