# Shared helpers for the scripts that stage artifacts (sourced, not run).
#
# Layout under $WHISK_ARTIFACTS (default ~/.cache/whisk/artifacts, outside the clone):
#   <name>/<version>/            the staged, runnable component
#   <name>/<version>.json        its manifest: name, version, source, inputs, files + sha256
#   manifest.json                every component's manifest, merged by `manifest.py merge`
# A component counts as staged only when its manifest exists and records the same inputs
# hash (the stage script, versions.env and any patch): otherwise it is staged again.
set -euo pipefail

ARTIFACTS_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WHISK_ARTIFACTS=${WHISK_ARTIFACTS:-$HOME/.cache/whisk/artifacts}
WHISK_CACHE=${WHISK_CACHE:-$HOME/.cache/whisk}
export WHISK_ARTIFACTS WHISK_CACHE
# shellcheck source=versions.env
. "$ARTIFACTS_SCRIPTS/versions.env"
mkdir -p "$WHISK_ARTIFACTS" "$WHISK_CACHE"

say() { printf 'artifacts: %s\n' "$*"; }

# inputs_hash FILE...: one sha256 over the given files' contents and the pinned versions
# (the assignments of versions.env, not its comments, so editing a comment restages nothing).
inputs_hash() {
    { grep -E '^[A-Z_]+=' "$ARTIFACTS_SCRIPTS/versions.env"; cat "$@"; } | sha256sum | cut -d' ' -f1
}

# dir_inputs_hash SCRIPT DIR: inputs_hash over the staging script and every file under DIR,
# the list of their names included, so that adding or renaming a file restages.
dir_inputs_hash() {
    local script=$1 dir=$2
    local -a files
    mapfile -d '' files < <(find "$dir" -type f -print0 | LC_ALL=C sort -z)
    inputs_hash "$script" <(printf '%s\n' "${files[@]#"$dir/"}") "${files[@]}"
}

# exit_if_staged NAME VERSION INPUTS: end the calling script (status 0) when the component
# is staged with these inputs. Otherwise take the component's lock, so that one staging runs
# at a time, and check again: whoever waited finds the work done. The lock stays held.
exit_if_staged() {
    local name=$1 version=$2 inputs=$3
    if is_staged "$name" "$version" "$inputs"; then
        say "$name $version already staged"
        exit 0
    fi
    exec 9>"$WHISK_CACHE/$name.lock"
    flock 9
    if is_staged "$name" "$version" "$inputs"; then
        say "$name $version already staged"
        exit 0
    fi
}

# is_staged NAME VERSION INPUTS: true when the component's manifest records these inputs.
is_staged() {
    local manifest="$WHISK_ARTIFACTS/$1/$2.json"
    [ -f "$manifest" ] && [ -d "$WHISK_ARTIFACTS/$1/$2" ] &&
        python3 "$ARTIFACTS_SCRIPTS/manifest.py" check "$manifest" --inputs "$3"
}

# publish NAME VERSION SOURCE INPUTS BUILD_DIR: move a finished build into place atomically
# and write its manifest last, so an interrupted run is never taken as staged.
publish() {
    local name=$1 version=$2 source=$3 inputs=$4 build=$5
    local dest="$WHISK_ARTIFACTS/$name/$version"
    mkdir -p "$WHISK_ARTIFACTS/$name"
    rm -f "$dest.json"
    rm -rf "$dest"
    mv "$build" "$dest"
    python3 "$ARTIFACTS_SCRIPTS/manifest.py" component "$dest" \
        --name "$name" --version "$version" --source "$source" --inputs "$inputs"
    say "staged $name $version in $dest"
}
