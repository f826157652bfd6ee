#!/usr/bin/env bash
# Makes the clone's virtualenv, .venv, from a wheelhouse kept outside the clone:
#
#   scripts/venv.sh            (what `make venv` runs when pyproject.toml or constraints.txt changed)
#
# The wheelhouse, $WHISK_CACHE/wheelhouse/<key>, holds a wheel of every pinned third-party
# package (python/constraints.txt, the extras of python/pyproject.toml) and of pip and
# setuptools; <key> is a hash of those two files and of this Python's version and machine, so a
# change of either makes a new one and an unchanged clone reuses it. A machine without one builds
# it once from the package index (about a minute). Each clone then makes its own virtualenv from
# it without the network and installs the package from its own sources (editable): a virtualenv
# shared between clones would test another clone's code. The three newest wheelhouses are kept.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${WHISK_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
CACHE=${WHISK_CACHE:-$HOME/.cache/whisk}
EXTRAS='python[test,lint,bench]'
KEEP=3

key=$({
    cat python/constraints.txt python/pyproject.toml
    "$PYTHON" -c 'import platform, sys; print(sys.version, platform.machine())'
} | sha256sum | cut -c1-16)
HOUSES=$CACHE/wheelhouse
WHEELHOUSE=$HOUSES/$key
mkdir -p "$HOUSES"

if [ ! -f "$WHEELHOUSE/.complete" ]; then
    echo "venv: building the wheelhouse $WHEELHOUSE from the package index"
    start=$(date +%s)
    building=$(mktemp -d "$HOUSES/.building.XXXXXX")
    trap 'rm -rf "$building"' EXIT
    "$PYTHON" -m pip wheel -q --wheel-dir "$building" -c python/constraints.txt \
        pip 'setuptools>=68' "./$EXTRAS"
    # The project's own wheel is left out: every clone installs the package from itself.
    rm -f "$building"/whisk_services-*.whl
    # uv (pinned too) makes the virtualenvs: it links files from its cache instead of
    # unpacking and compiling some 30,000 of them for each clone (measured: 4 s against 41 s).
    "$PYTHON" -m pip install -q --target "$building/.uv" -c python/constraints.txt uv
    touch "$building/.complete"
    # Another clone may have finished the same wheelhouse meanwhile: either copy will do.
    mv -T "$building" "$WHEELHOUSE" 2>/dev/null || rm -rf "$building"
    trap - EXIT
    echo "venv: wheelhouse built in $(($(date +%s) - start)) s"
    # shellcheck disable=SC2012 # the names are hex keys
    ls -1t "$HOUSES" | tail -n +$((KEEP + 1)) | while read -r old; do rm -rf "${HOUSES:?}/$old"; done
fi

start=$(date +%s)
uv=$WHEELHOUSE/.uv/bin/uv
export UV_CACHE_DIR=$CACHE/uv UV_NO_CONFIG=1
rm -rf "$VENV"
"$uv" venv -q --python "$PYTHON" "$VENV"
# pip too, for the scripts that build wheels with it (scripts/service-images.sh).
VIRTUAL_ENV=$VENV "$uv" pip install -q --no-index --find-links "$WHEELHOUSE" \
    -c python/constraints.txt pip -e "$EXTRAS"
touch "$VENV/.installed"
echo "venv: $VENV made from the wheelhouse $key in $(($(date +%s) - start)) s"
