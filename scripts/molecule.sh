#!/usr/bin/env bash
# Runs one molecule scenario of one role, its box named after both, so that scenarios of
# different roles can run side by side:
#
#   scripts/molecule.sh ROLE [SCENARIO] [COMMAND]     (default: default, test)
#
# It uses the project's virtualenv (make venv) and prints how long the scenario took.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
role=${1:?usage: scripts/molecule.sh ROLE [SCENARIO] [COMMAND]}
scenario=${2:-default}
command=${3:-test}
[ -d "$ROOT/roles/$role/molecule/$scenario" ] || {
    echo "molecule.sh: no scenario $scenario in roles/$role/molecule" >&2
    exit 2
}
export PATH=$ROOT/.venv/bin:$PATH
host="whisk-mol-$role"
[ "$scenario" = default ] || host="$host-$scenario"
export WHISK_MOLECULE_HOST=$host
export WHISK_TEST_LOGS=${WHISK_TEST_LOGS:-$ROOT/test-logs}
mkdir -p "$WHISK_TEST_LOGS/molecule"
start=$(date +%s)
cd "$ROOT/roles/$role"
status=0
molecule "$command" -s "$scenario" || status=$?
echo "molecule.sh: $role/$scenario $command took $(( $(date +%s) - start )) s (exit $status)"
exit $status
