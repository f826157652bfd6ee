#!/usr/bin/env bash
# Build the Consul agent from its Go module github.com/hashicorp/consul and stage it as
# $WHISK_ARTIFACTS/consul/$CONSUL_VERSION/:
#   bin/consul     the agent and CLI, statically linked (CGO_ENABLED=0), stripped
#   LICENSE        Consul's licence, from the module (MPL-2.0; checked below), and NOTICE.md
#   licenses/      the licence and notice files of every other module linked into the binary
#   BUILD-INFO     the Go version, build flags and `go version -m` (every module and its sum)
# The main package is our own, scripts/artifacts/consul-main: upstream's main cannot be built
# with `go install module@version` because its go.mod has replace directives. consul-main's
# go.mod and go.sum pin Consul, its submodules and every dependency; it must name the same
# Consul version as versions.env. The module cache (~/go/pkg/mod) and the build cache
# (~/.cache/go-build) are Go's defaults, outside the clone: a rebuild downloads nothing.
#
# Why 1.14.x and not 1.16.x: from 1.15 on, Consul's agent imports the separate modules
# github.com/hashicorp/consul/envoyextensions and .../troubleshoot, which the module proxy
# reachable here does not serve (their later versions are not under an open-source licence).
# 1.14.11 is the newest tag that needs neither and whose LICENSE in the module is MPL-2.0.
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

here="$ARTIFACTS_SCRIPTS/consul-main"
mapfile -t files < <(cd "$here" && find . -type f | LC_ALL=C sort)
inputs=$(dir_inputs_hash "$ARTIFACTS_SCRIPTS/consul.sh" "$here")
exit_if_staged consul "$CONSUL_VERSION" "$inputs"

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$GO" ] || { say "consul: go (1.20 or later) is required; set GO=/path/to/go" >&2; exit 1; }
module=github.com/hashicorp/consul
grep -Eq "^[[:space:]]*$module v$CONSUL_VERSION([[:space:]]|\$)" "$here/go.mod" || {
    say "consul: $here/go.mod does not require $module v$CONSUL_VERSION (versions.env);" \
        "update its requires and go.sum (see the comment at its top)" >&2
    exit 1
}

# This machine's Go, never a downloaded toolchain; go.mod and go.sum are never rewritten.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -buildvcs=false"
go_version=$("$GO" env GOVERSION)

say "staging consul $CONSUL_VERSION: building $module v$CONSUL_VERSION with $go_version"
work=$(mktemp -d "$WHISK_CACHE/consul-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/src" dist="$work/consul-$CONSUL_VERSION"
mkdir -p "$src" "$dist/bin" "$dist/licenses"
cp "${files[@]/#./$here}" "$src/"

# Where the module landed, and its version's commit time, which is what upstream's build
# stamps as the build date (build-support/scripts/build-date.sh: the tag's commit date).
if ! (cd "$src" && "$GO" mod download "$module") >"$work/go.log" 2>&1; then
    cat "$work/go.log" >&2
    say "consul: go mod download $module failed" >&2
    exit 1
fi
read -r moddir build_date commit < <(cd "$src" && "$GO" list -m \
    -f '{{.Dir}} {{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{else}}-{{end}} {{with .Origin}}{{.Hash}}{{end}}' \
    "$module")
license_line=$(grep -m1 -E 'Mozilla Public License|Business Source License' "$moddir/LICENSE" || true)
case "$license_line" in
*"Mozilla Public License, version 2.0"*) license=MPL-2.0 ;;
*) say "consul: $module v$CONSUL_VERSION is not under MPL-2.0 (LICENSE: ${license_line:-?})" >&2
   exit 1 ;;
esac

# As upstream's GNUmakefile does: -X on the version package's GitCommit and BuildDate (the
# version itself comes from the module's embedded version/VERSION file).
ldflags="-s -w"
[ "$build_date" = - ] || ldflags+=" -X $module/version.BuildDate=$build_date"
[ -z "${commit:-}" ] || ldflags+=" -X $module/version.GitCommit=${commit:0:7}"
if ! (cd "$src" && "$GO" build -trimpath -ldflags "$ldflags" -o "$dist/bin/consul" .) \
    >"$work/go.log" 2>&1; then
    cat "$work/go.log" >&2
    say "consul: go build failed" >&2
    exit 1
fi
printed=$("$dist/bin/consul" version | sed -n 1p)
[ "$printed" = "Consul v$CONSUL_VERSION" ] ||
    { say "consul: the binary reports '$printed', expected 'Consul v$CONSUL_VERSION'" >&2; exit 1; }

# Consul's licence beside the binary, and those of everything linked into it.
install -m 0644 "$moddir/LICENSE" "$dist/LICENSE"
[ ! -f "$moddir/NOTICE.md" ] || install -m 0644 "$moddir/NOTICE.md" "$dist/NOTICE.md"
(cd "$src" && "$GO" list -deps -f '{{with .Module}}{{.Path}}@{{.Version}} {{.Dir}}{{end}}' .) |
    LC_ALL=C sort -u | while read -r modver dir; do
        case "$modver" in "$module@"*|whisk.local/*) continue ;; esac
        # At the module's top, else further down (forks that keep one per directory).
        found=
        for depth in 1:1 2:3; do
            while read -r rel; do
                mkdir -p "$dist/licenses/$modver/$(dirname "$rel")"
                install -m 0644 "$dir/$rel" "$dist/licenses/$modver/$rel"
                found=1
            done < <(cd "$dir" && find . -mindepth "${depth%:*}" -maxdepth "${depth#*:}" -type f \
                \( -iname 'licen[cs]e*' -o -iname 'copying*' -o -iname 'notice*' \
                -o -iname 'patents*' -o -iname 'copyright*' \) -printf '%P\n' | LC_ALL=C sort)
            [ -z "$found" ] || break
        done
        [ -n "$found" ] || printf '%s\n' "$modver" >>"$dist/licenses/NO-LICENSE-FILE"
    done

{
    echo "consul $CONSUL_VERSION"
    echo "module: $module v$CONSUL_VERSION (LICENSE: $license)"
    echo "commit: ${commit:-unknown (the module proxy did not record it)}"
    echo "build date: ${build_date/#-/unknown}"
    echo "built with: $go_version, CGO_ENABLED=0, go build -trimpath -ldflags '$ldflags'"
    echo "main package: whisk.local/consul-build (scripts/artifacts/consul-main)"
    echo
    "$GO" version -m "$dist/bin/consul" | sed "s#^$dist/##"
} >"$dist/BUILD-INFO"

publish consul "$CONSUL_VERSION" \
    "go module $module v$CONSUL_VERSION ($license), built with $go_version" "$inputs" "$dist"
