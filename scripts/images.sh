#!/usr/bin/env bash
# Builds the project's Docker images on this machine; no container registry is needed.
#
#   scripts/images.sh [--force] [IMAGE...]
#       IMAGE: base box runtime-base action-python action-nodejs (default: all)
#
#   base          whisk/debian:bookworm       debootstrap --variant=minbase, docker import
#   box           whisk/box:bookworm          systemd as PID 1: the test host for molecule/Vagrant
#   runtime-base  whisk/runtime-base:bookworm python3: base of the action runtimes and daemons
#   action-python whisk/action-python:3.11    the python:3.11 kind: runtimes/python's proxy
#   action-nodejs whisk/action-nodejs:18      the nodejs:18 kind: Debian's nodejs + runtimes/nodejs
#
# Cached by content: each image carries the label org.whisk.inputs=<sha256 of its inputs>
# (its definition under images/, the parts of this script that build it, the ids of the
# images it is built FROM, for an action runtime its build context under runtimes/ and, for
# base, the suite, architecture, package list and mirror).
# An image whose tag exists with the same label is left alone ("up to date"), so a second
# run changes nothing, downloads nothing and takes seconds. The root file system tarball
# is kept under $WHISK_CACHE/images/ keyed by the same hash, so a deleted base image is
# imported again without running debootstrap. --force rebuilds the named images from
# scratch (debootstrap again, docker build --no-cache), e.g. to pick up Debian updates.
#
# The Debian mirror is the one this host's apt uses (deb822 *.sources or one-line *.list /
# sources.list); WHISK_DEBIAN_MIRROR and WHISK_DEBIAN_SECURITY_MIRROR override it. It is
# written into the base image's apt sources at build time and never into the repository.
#
# Every image carries org.whisk.project=whisk and org.whisk.image=<name>.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGES_DIR=$ROOT/images
WHISK_CACHE=${WHISK_CACHE:-$HOME/.cache/whisk}
IMAGE_CACHE=$WHISK_CACHE/images
export DOCKER_BUILDKIT=0 # the CLI has no buildx here; ask for the legacy builder explicitly

PROJECT_LABEL=org.whisk.project=whisk
INPUTS_LABEL=org.whisk.inputs
NAME_LABEL=org.whisk.image

SUITE=bookworm
VARIANT=minbase
COMPONENTS=main
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# name -> tag, and the order to build in (a parent before its children). Images defined by a
# Dockerfile live in images/<name>/ and name their parents in FROM lines.
ORDER=(base box runtime-base action-python action-nodejs)
declare -A TAG=(
    [base]=whisk/debian:$SUITE
    [box]=whisk/box:$SUITE
    [runtime-base]=whisk/runtime-base:$SUITE
    [action-python]=whisk/action-python:3.11
    [action-nodejs]=whisk/action-nodejs:18
)
declare -A PARENT=([box]=base [runtime-base]=base [action-python]=runtime-base
    [action-nodejs]=runtime-base)
# Images whose build context is not images/<name>/ (which keeps only their Dockerfile): the
# action runtimes are built from their proxy's directory.
declare -A CONTEXT=([action-python]=runtimes/python [action-nodejs]=runtimes/nodejs)

say() { printf 'images: %s\n' "$*"; }
die() { printf 'images: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
sha() { sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- Debian mirror discovery

# apt_uri SUITE: the first enabled `deb` URI on this host that serves SUITE.
apt_uri() {
    local suite=$1 f
    local -a files=()
    for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && files+=("$f"); done
    if [ ${#files[@]} -gt 0 ]; then
        # deb822: paragraphs separated by blank lines; fields Types, URIs, Suites, Enabled.
        awk -v want="$suite" '
            function flush(   n, i, s, u) {
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[ \t]*no/) {
                    n = split(suites, s, /[ \t]+/)
                    for (i = 1; i <= n; i++) if (s[i] == want) { split(uris, u, /[ \t]+/); print u[1]; exit }
                }
                types = uris = suites = enabled = ""
            }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { if (last == "uris") uris = uris " " $0; if (last == "suites") suites = suites " " $0; next }
            {
                key = tolower($0); sub(/:.*/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                last = key
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "enabled") enabled = tolower(val)
            }
            END { flush() }' "${files[@]}" | sed -n 1p
    fi
    files=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && files+=("$f"); done
    if [ ${#files[@]} -gt 0 ]; then
        # one-line format: deb [options] URI suite component...
        sed -E 's/#.*//; s/\[[^]]*\]//' "${files[@]}" |
            awk -v want="$suite" '$1 == "deb" && $3 == want { print $2; exit }'
    fi
}

# Sets MIRROR and SECURITY_MIRROR (no trailing slash).
find_mirrors() {
    local host_main host_sec
    host_main=$(apt_uri "$SUITE" | sed -n 1p)
    host_sec=$(apt_uri "$SUITE-security" | sed -n 1p)
    MIRROR=${WHISK_DEBIAN_MIRROR:-$host_main}
    MIRROR=${MIRROR%/}
    [ -n "$MIRROR" ] || die "no apt source for '$SUITE' on this host; set WHISK_DEBIAN_MIRROR"
    if [ -n "${WHISK_DEBIAN_SECURITY_MIRROR:-}" ]; then
        SECURITY_MIRROR=$WHISK_DEBIAN_SECURITY_MIRROR
    elif [ -n "${WHISK_DEBIAN_MIRROR:-}" ] && [[ $MIRROR == */debian ]]; then
        SECURITY_MIRROR=${MIRROR%/debian}/debian-security
    elif [ -n "$host_sec" ]; then
        SECURITY_MIRROR=$host_sec
    elif [[ $MIRROR == */debian ]]; then
        SECURITY_MIRROR=${MIRROR%/debian}/debian-security
    else
        die "no apt source for '$SUITE-security' on this host; set WHISK_DEBIAN_SECURITY_MIRROR"
    fi
    SECURITY_MIRROR=${SECURITY_MIRROR%/}
}

# ---------------------------------------------------------------- hashing and docker helpers

# dir_hash DIR: names, modes and contents of every file under DIR.
dir_hash() {
    (cd "$1" && find . -type f -printf '%m %P\n' | LC_ALL=C sort -k2 | while read -r mode path; do
        printf '%s %s %s\n' "$path" "$mode" "$(sha256sum <"$path" | cut -d' ' -f1)"
    done) | sha
}

# include_list: the base image's extra packages, comma-separated.
include_list() {
    sed -E 's/#.*//; s/[[:space:]]+//g; /^$/d' "$IMAGES_DIR/base/include" | paste -sd, -
}

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
image_inputs() {
    docker image inspect --format "{{index .Config.Labels \"$INPUTS_LABEL\"}}" "$1" 2>/dev/null || true
}

# from_ids DOCKERFILE: the local image id of every FROM image (they must exist already;
# stage names of a multi-stage build and `scratch` are not images).
from_ids() {
    local ref id
    while read -r ref; do
        id=$(image_id "$ref")
        [ -n "$id" ] || die "$1: FROM image $ref is not in the local engine (no registry to pull from)"
        printf '%s=%s\n' "$ref" "$id"
    done < <(awk 'toupper($1) == "FROM" {
            ref = ""
            for (i = 2; i <= NF; i++) if ($i !~ /^--/) { ref = $i; break }
            if (ref != "" && ref != "scratch" && !(ref in stage)) print ref
            if (toupper($(NF - 1)) == "AS") stage[$NF] = 1
        }' "$1")
}

# inputs_of NAME: the content hash recorded as org.whisk.inputs.
inputs_of() {
    local name=$1
    if [ "$name" = base ]; then
        {
            printf 'tag=%s suite=%s variant=%s components=%s arch=%s include=%s\n' \
                "${TAG[base]}" "$SUITE" "$VARIANT" "$COMPONENTS" "$ARCH" "$(include_list)"
            printf 'mirror=%s security=%s\n' "$MIRROR" "$SECURITY_MIRROR"
            dir_hash "$IMAGES_DIR/base"
            declare -f write_sources make_rootfs build_base
        } | sha
    elif [ -n "${CONTEXT[$name]:-}" ]; then
        {
            printf 'tag=%s context=%s\n' "${TAG[$name]}" "${CONTEXT[$name]}"
            dir_hash "$IMAGES_DIR/$name"
            dir_hash "$ROOT/${CONTEXT[$name]}"
            from_ids "$IMAGES_DIR/$name/Dockerfile"
            declare -f build_context_image
        } | sha
    else
        {
            printf 'tag=%s\n' "${TAG[$name]}"
            dir_hash "$IMAGES_DIR/$name"
            from_ids "$IMAGES_DIR/$name/Dockerfile"
            declare -f build_dockerfile_image
        } | sha
    fi
}

# ---------------------------------------------------------------- base: debootstrap + import

# write_sources ROOTFS: apt sources for the suite, -updates and -security.
write_sources() {
    rm -f "$1/etc/apt/sources.list"
    mkdir -p "$1/etc/apt/sources.list.d"
    cat >"$1/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: $COMPONENTS
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: $COMPONENTS
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

# unmount_below DIR: lazily unmount anything a failed debootstrap/chroot left mounted.
unmount_below() {
    awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# make_rootfs TARBALL: debootstrap a root file system and pack it as TARBALL.
make_rootfs() {
    local tarball=$1 work rootfs t
    command -v debootstrap >/dev/null || die "debootstrap is not installed (run scripts/prereqs.sh)"
    [ -r "$KEYRING" ] || die "$KEYRING missing (package debian-archive-keyring)"
    work=$(mktemp -d "$IMAGE_CACHE/base.build.XXXXXX")
    # shellcheck disable=SC2064  # expand $work now: it is local
    trap "unmount_below '$work'; rm -rf --one-file-system '$work'" EXIT
    rootfs=$work/rootfs
    mkdir -p "$rootfs" "$IMAGE_CACHE/debs"
    say "base: debootstrap --variant=$VARIANT $SUITE from $MIRROR (include: $(include_list))"
    t=$(now)
    if ! debootstrap --variant="$VARIANT" --arch="$ARCH" --components="$COMPONENTS" \
        --include="$(include_list)" --keyring="$KEYRING" --cache-dir="$IMAGE_CACHE/debs" \
        "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
        tail -n 30 "$work/debootstrap.log" >&2
        [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
        die "debootstrap failed"
    fi
    say "base: debootstrap done in $(elapsed "$t") s; upgrading from $SUITE-updates/-security and slimming"
    t=$(now)
    write_sources "$rootfs"
    cp -a "$IMAGES_DIR/base/rootfs/." "$rootfs/"
    cp "$IMAGES_DIR/base/finalize.sh" "$rootfs/finalize.sh"
    mount -t proc proc "$rootfs/proc"
    if ! chroot "$rootfs" /bin/sh /finalize.sh >"$work/finalize.log" 2>&1; then
        tail -n 30 "$work/finalize.log" >&2
        die "finalize.sh failed in the new root file system"
    fi
    umount "$rootfs/proc"
    rm -f "$rootfs/finalize.sh"
    # Docker provides /dev, /proc, /sys, /run in every container: ship them empty.
    unmount_below "$rootfs"
    rm -rf --one-file-system "${rootfs:?}"/dev/* "${rootfs:?}"/proc/* "${rootfs:?}"/sys/* "${rootfs:?}"/run/*
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    say "base: root file system finished and packed in $(elapsed "$t") s"
    unmount_below "$work"
    rm -rf --one-file-system "$work"
    trap - EXIT
}

build_base() {
    local inputs=$1 tarball=$IMAGE_CACHE/debian-$SUITE-$ARCH-$1.tar
    if [ -f "$tarball" ] && [ "$FORCE" != 1 ]; then
        say "base: importing the cached root file system $(basename "$tarball")"
    else
        make_rootfs "$tarball"
    fi
    docker import \
        --change "LABEL $PROJECT_LABEL" \
        --change "LABEL $NAME_LABEL=base" \
        --change "LABEL $INPUTS_LABEL=$inputs" \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "ENV LANG=C.UTF-8" \
        --change 'CMD ["bash"]' \
        --message "debootstrap --variant=$VARIANT $SUITE ($inputs)" \
        "$tarball" "${TAG[base]}" >/dev/null
    # keep only this root file system tarball
    find "$IMAGE_CACHE" -maxdepth 1 -name "debian-$SUITE-$ARCH-*.tar" ! -name "$(basename "$tarball")" -delete
}

# ---------------------------------------------------------------- Dockerfile images

build_dockerfile_image() {
    local name=$1 inputs=$2
    local -a opts=(--pull=false --force-rm --label "$PROJECT_LABEL" --label "$NAME_LABEL=$name"
        --label "$INPUTS_LABEL=$inputs" --tag "${TAG[$name]}")
    [ "$FORCE" = 1 ] && opts+=(--no-cache)
    local log=$IMAGE_CACHE/logs/$name.log
    mkdir -p "$IMAGE_CACHE/logs"
    if ! docker build "${opts[@]}" "$IMAGES_DIR/$name" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "docker build of ${TAG[$name]} failed (whole log: $log)"
    fi
}

# build_context_image NAME INPUTS: as build_dockerfile_image, with images/NAME/Dockerfile
# and the build context ${CONTEXT[NAME]} (a separate function, so that the inputs of the
# images above, which hash build_dockerfile_image, stay what they were).
build_context_image() {
    local name=$1 inputs=$2
    local -a opts=(--pull=false --force-rm --label "$PROJECT_LABEL" --label "$NAME_LABEL=$name"
        --label "$INPUTS_LABEL=$inputs" --tag "${TAG[$name]}"
        --file "$IMAGES_DIR/$name/Dockerfile")
    [ "$FORCE" = 1 ] && opts+=(--no-cache)
    local log=$IMAGE_CACHE/logs/$name.log
    mkdir -p "$IMAGE_CACHE/logs"
    if ! docker build "${opts[@]}" "$ROOT/${CONTEXT[$name]}" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "docker build of ${TAG[$name]} failed (whole log: $log)"
    fi
}

# ---------------------------------------------------------------- main

FORCE=0
selected=()
while [ $# -gt 0 ]; do
    case $1 in
        --force) FORCE=1 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [ -n "${TAG[$1]:-}" ] || die "unknown image '$1' (known: ${ORDER[*]})"; selected+=("$1") ;;
    esac
    shift
done
[ ${#selected[@]} -gt 0 ] || selected=("${ORDER[@]}")

# The named images and their parents, in build order; --force applies to the named ones only.
declare -A want=() forced=()
for n in "${selected[@]}"; do
    forced[$n]=$FORCE
    while [ -n "$n" ]; do want[$n]=1; n=${PARENT[$n]:-}; done
done

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "the Docker Engine does not answer (run scripts/prereqs.sh)"
mkdir -p "$IMAGE_CACHE"
exec 9>"$IMAGE_CACHE/.lock"
flock -n 9 || { say "another images.sh holds $IMAGE_CACHE/.lock; waiting"; flock 9; }

ARCH=$(dpkg --print-architecture)
find_mirrors

replaced=()
total=$(now)
for name in "${ORDER[@]}"; do
    [ -n "${want[$name]:-}" ] || continue
    start=$(now)
    inputs=$(inputs_of "$name")
    tag=${TAG[$name]}
    FORCE=${forced[$name]:-0}
    if [ "$FORCE" != 1 ] && [ "$(image_inputs "$tag")" = "$inputs" ]; then
        say "$name: $tag up to date (${inputs:0:12})"
        continue
    fi
    old=$(image_id "$tag")
    say "$name: building $tag (inputs ${inputs:0:12})"
    if [ "$name" = base ]; then
        build_base "$inputs"
    elif [ -n "${CONTEXT[$name]:-}" ]; then
        build_context_image "$name" "$inputs"
    else
        build_dockerfile_image "$name" "$inputs"
    fi
    [ -n "$old" ] && [ "$old" != "$(image_id "$tag")" ] && replaced+=("$old")
    say "$name: built $tag in $(elapsed "$start") s ($(docker image inspect --format '{{.Size}}' "$tag" |
        awk '{ printf "%.0f MB", $1 / 1e6 }'))"
done

# Drop the images this run replaced, once nothing (no tag, no child) holds them any more.
for id in "${replaced[@]}"; do
    if [ "$(docker image inspect --format '{{len .RepoTags}}' "$id" 2>/dev/null)" = 0 ]; then
        docker image rm "$id" >/dev/null 2>&1 || true
    fi
done
say "done in $(elapsed "$total") s"
