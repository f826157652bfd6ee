#!/usr/bin/env bash
# Builds the platform's daemon images and stages every image a deployment needs as a
# `docker save` archive in the artifact directory, where the Ansible roles take them from
# (air-gapped: the hosts never need a registry).
#
#   scripts/service-images.sh [--version V]
#
#   whisk/controller:V  whisk/invoker:V  whisk/registrator:V   (images/services/Dockerfile)
#   $WHISK_ARTIFACTS/images/whisk-<name>_<tag>.tar for those three and the action runtimes
#   (whisk/action-python:3.11, whisk/action-nodejs:18, built by scripts/images.sh).
#
# V defaults to the package's version (python/pyproject.toml); another V builds the same
# code as package version V under tag V, so the daemons report V (GET /api/v1's buildno):
# that is how the upgrade test gets a real version N+1.
# The wheels come from PyPI through this machine's pip, pinned by python/constraints.txt,
# and are cached under $WHISK_CACHE/wheels/<hash of the pins>. Images are cached by content:
# each carries org.whisk.inputs (the hash of the Dockerfile, the package's tracked sources,
# the pins, the version and the base image's id) and is rebuilt only when that changes; an
# archive is rewritten only when its image id changed (recorded beside it as <archive>.id).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHISK_CACHE=${WHISK_CACHE:-$HOME/.cache/whisk}
WHISK_ARTIFACTS=${WHISK_ARTIFACTS:-$WHISK_CACHE/artifacts}
PIP=${PIP:-$ROOT/.venv/bin/pip}
export DOCKER_BUILDKIT=0

say() { printf 'service-images: %s\n' "$*"; }
die() { printf 'service-images: error: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum | cut -d' ' -f1; }

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/python/pyproject.toml")
while [ $# -gt 0 ]; do
    case $1 in
        --version) VERSION=${2:?--version needs a value}; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ $VERSION =~ ^[0-9]+(\.[0-9]+)*$ ]] || die "bad version '$VERSION' (digits and dots: 0.1.1)"

DAEMONS=(controller invoker registrator)
RUNTIMES=(whisk/action-python:3.11 whisk/action-nodejs:18)
BASE=whisk/runtime-base:bookworm

base_id=$(docker image inspect --format '{{.Id}}' "$BASE" 2>/dev/null) ||
    die "$BASE is missing: run scripts/images.sh (make images) first"

# The inputs: the Dockerfile, every tracked file of the package, the pins, the version.
sources_hash=$(cd "$ROOT" && git ls-files -z python/pyproject.toml python/constraints.txt \
    python/whisk_services | sort -z | xargs -0 sha256sum | sha)
inputs=$(printf '%s\n' "$(sha256sum <"$ROOT/images/services/Dockerfile")" "$sources_hash" \
    "$VERSION" "$base_id" | sha)

current() { docker image inspect --format '{{index .Config.Labels "org.whisk.inputs"}}' "$1" 2>/dev/null || true; }

stale=0
for daemon in "${DAEMONS[@]}"; do
    [ "$(current "whisk/$daemon:$VERSION")" = "$inputs" ] || stale=1
done

if [ $stale = 0 ]; then
    say "whisk/{controller,invoker,registrator}:$VERSION up to date (${inputs:0:12})"
else
    start=$(date +%s)
    pins_hash=$(sha256sum <"$ROOT/python/constraints.txt" | cut -d' ' -f1)
    wheels=$WHISK_CACHE/wheels/$pins_hash
    context=$(mktemp -d "${TMPDIR:-/tmp}/whisk-services.XXXXXX")
    trap 'rm -rf "$context"' EXIT
    mkdir -p "$wheels"
    # Dependencies once per set of pins; the project's own wheel every time (it is the change),
    # from a copy of the package whose version is V, which is what the daemons report.
    mkdir -p "$context/src"
    tar -C "$ROOT" --exclude=__pycache__ --exclude='*.egg-info' --exclude=.mypy_cache \
        --exclude=.pytest_cache --exclude=build -cf - python | tar -C "$context/src" -xf -
    sed -i "s/^version = \".*\"/version = \"$VERSION\"/" "$context/src/python/pyproject.toml"
    "$PIP" wheel -q --no-deps --wheel-dir "$context/wheels" "$context/src/python"
    [ -f "$context/wheels/whisk_services-$VERSION-py3-none-any.whl" ] ||
        die "the package's wheel for version $VERSION was not built (is '$VERSION' a PEP 440 version?)"
    "$PIP" wheel -q --wheel-dir "$wheels" -c "$ROOT/python/constraints.txt" "$ROOT/python"
    rm -f "$wheels"/whisk_services-*.whl
    cp "$wheels"/*.whl "$context/wheels/"
    cp "$ROOT/images/services/Dockerfile" "$context/"
    log=$WHISK_CACHE/service-images.log
    for daemon in "${DAEMONS[@]}"; do
        say "building whisk/$daemon:$VERSION (inputs ${inputs:0:12})"
        docker build --pull=false --force-rm --target "$daemon" \
            --build-arg "WHISK_VERSION=$VERSION" \
            --label org.whisk.project=whisk --label "org.whisk.image=$daemon" \
            --label "org.whisk.inputs=$inputs" \
            --tag "whisk/$daemon:$VERSION" "$context" >"$log" 2>&1 ||
            die "docker build of whisk/$daemon:$VERSION failed (log: $log)"
    done
    say "built in $(( $(date +%s) - start )) s"
fi

# Stage the archives the roles load.
mkdir -p "$WHISK_ARTIFACTS/images"
stage() {
    local image=$1 archive id
    archive=$WHISK_ARTIFACTS/images/$(printf '%s' "${image%%:*}" | tr / -)_${image##*:}.tar
    id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) ||
        die "$image is missing: run make images"
    if [ -f "$archive" ] && [ "$(cat "$archive.id" 2>/dev/null)" = "$id" ]; then
        return
    fi
    docker save "$image" -o "$archive.tmp"
    chmod 0644 "$archive.tmp"
    mv "$archive.tmp" "$archive"
    printf '%s\n' "$id" >"$archive.id"
    say "staged $image as $archive"
}
for daemon in "${DAEMONS[@]}"; do stage "whisk/$daemon:$VERSION"; done
for runtime in "${RUNTIMES[@]}"; do stage "$runtime"; done
say "archives in $WHISK_ARTIFACTS/images are up to date"
