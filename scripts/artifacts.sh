#!/usr/bin/env bash
# Stages every third-party artifact the platform deploys into $WHISK_ARTIFACTS (default
# ~/.cache/whisk/artifacts) and writes its manifest.json. Each component is staged only when
# it is missing or its inputs changed, so a warm run downloads nothing and takes seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=artifacts/common.sh
. "$here/artifacts/common.sh"

components=(kafka consul pouchdb-server)
for component in "${components[@]}"; do
    start=$(date +%s%N)
    bash "$here/artifacts/$component.sh"
    awk -v c="$component" -v s="$start" -v e="$(date +%s%N)" \
        'BEGIN { printf "artifacts: %s took %.1f s\n", c, (e - s) / 1e9 }'
done
say "manifest $WHISK_ARTIFACTS/manifest.json:"
python3 "$here/artifacts/manifest.py" merge "$WHISK_ARTIFACTS" --require "${components[@]}"
