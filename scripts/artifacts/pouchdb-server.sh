#!/usr/bin/env bash
# Stages pouchdb-server, the CouchDB-API server the tests and small deployments use in place
# of CouchDB, as a self-contained bundle: $WHISK_ARTIFACTS/pouchdb-server/<version>/ holds
# node_modules (npm ci from our lockfile, production dependencies only, no install scripts),
# our patches for upstream pouchdb/pouchdb-server#374 applied to it, and our launcher
# bin/pouchdb-server. Node is not bundled: hosts install Debian's nodejs.
#
#   scripts/artifacts/pouchdb-server.sh                stage (nothing to do when staged already)
#   scripts/artifacts/pouchdb-server.sh --update-lock  rewrite pouchdb-server/package.json and
#                                                      package-lock.json from versions.env
#
# Before publishing, the bundle is checked: leveldb works on disk, and a real server started
# from the launcher answers 401 to a non-admin's PUT and DELETE of a database and keeps
# serving the admin afterwards (the two failures the patches fix). npm's cache stays in ~/.npm.
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

name=pouchdb-server
version=$POUCHDB_SERVER_VERSION
src=$ARTIFACTS_SCRIPTS/pouchdb-server

die() {
    printf 'artifacts: %s: %s\n' "$name" "$*" >&2
    exit 1
}

# The package.json of the bundle, derived from versions.env.
package_json() {
    cat <<EOF
{
  "name": "whisk-pouchdb-server",
  "version": "$version",
  "private": true,
  "description": "pouchdb-server $version as staged by scripts/artifacts/pouchdb-server.sh",
  "license": "Apache-2.0",
  "dependencies": {
    "pouchdb-server": "$version"
  }
}
EOF
}

work=
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$work" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

if [ "${1:-}" = --update-lock ]; then
    command -v npm >/dev/null 2>&1 || die "npm not found (scripts/prereqs.sh installs it)"
    work=$(mktemp -d "$WHISK_CACHE/$name-lock.XXXXXX")
    package_json >"$work/package.json"
    (cd "$work" && npm install --package-lock-only --ignore-scripts \
        --omit-lockfile-registry-resolved --no-audit --no-fund --loglevel=warn) ||
        die "npm could not resolve pouchdb-server@$version"
    cp "$work/package.json" "$work/package-lock.json" "$src/"
    say "wrote $src/package.json and package-lock.json for pouchdb-server $version;" \
        "check that the patches still apply (run this script), then commit them"
    exit 0
elif [ $# -gt 0 ]; then
    die "usage: $0 [--update-lock]"
fi

# Inputs: this script, versions.env, and every file under pouchdb-server/ (names included).
inputs=$(dir_inputs_hash "$ARTIFACTS_SCRIPTS/pouchdb-server.sh" "$src")
exit_if_staged "$name" "$version" "$inputs"

started=$SECONDS
for tool in node npm patch curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/prereqs.sh installs it)"
done
package_json | cmp -s - "$src/package.json" ||
    die "$src/package.json does not pin pouchdb-server $version from versions.env:" \
        "run $0 --update-lock and commit package.json and package-lock.json"

work=$(mktemp -d "$WHISK_CACHE/$name-build.XXXXXX")
stage=$work/$version
mkdir -p "$stage/bin" "$stage/PATCHES"
cp "$src/package.json" "$src/package-lock.json" "$stage/"

say "staging $name $version: npm ci (node $(node --version), npm $(npm --version))"
# --ignore-scripts: no dependency needs one (leveldown loads its shipped N-API prebuild), and
# sqlite3's would try to download or compile a binding. npm ci refuses a stale lockfile.
(cd "$stage" && npm ci --omit=dev --ignore-scripts --prefer-offline \
    --no-audit --no-fund --loglevel=warn) || die "npm ci failed"

# Patches: patches/<package>/NNNN-*.patch, applied in order inside node_modules/<package>.
shopt -s nullglob
patches=("$src"/patches/*/*.patch)
shopt -u nullglob
[ ${#patches[@]} -gt 0 ] || die "no patches under $src/patches"
patched_files=()
for p in "${patches[@]}"; do
    pkg=$(basename "$(dirname "$p")")
    target=$stage/node_modules/$pkg
    [ -f "$target/package.json" ] || die "$(basename "$p"): $pkg is not installed"
    copies=$(find "$stage/node_modules" -type d -path "*/node_modules/$pkg" | wc -l)
    [ "$copies" -eq 1 ] || die "$pkg is installed $copies times; the patches expect one copy"
    if ! patch --batch --forward --fuzz=0 --no-backup-if-mismatch --reject-file=- \
        -p1 -d "$target" -i "$p" >"$work/patch.log" 2>&1; then
        cat "$work/patch.log" >&2
        die "patch $pkg/$(basename "$p") does not apply to $pkg" \
            "$(node -p "require('$target/package.json').version")"
    fi
    mkdir -p "$stage/PATCHES/$pkg"
    cp "$p" "$stage/PATCHES/$pkg/"
    while IFS= read -r f; do
        patched_files+=("$target/$f")
    done < <(sed -n 's#^+++ b/\([^[:space:]]*\).*#\1#p' "$p")
done
for f in "${patched_files[@]}"; do
    node --check "$f" || die "${f#"$stage/"} is not valid JavaScript after patching"
done

install -m 0755 "$src/bin/pouchdb-server" "$stage/bin/pouchdb-server"

# leveldb on disk must work: leveldown loads a binding without any install script.
mkdir -p "$work/smoke"
binding=$(cd "$stage" && node -e '
const path = require("path");
const dir = path.dirname(require.resolve("leveldown/package.json"));
const gypBuild = require(require.resolve("node-gyp-build", { paths: [dir] }));
const binding = path.relative(process.cwd(), gypBuild.path(dir));
const PouchDB = require("pouchdb-core").plugin(require("pouchdb-adapter-leveldb"));
const db = new PouchDB(path.join(process.argv[1], "smoke"));
db.put({ _id: "a", n: 1 })
  .then(() => db.get("a"))
  .then((doc) => {
    if (doc.n !== 1) throw new Error("read back " + JSON.stringify(doc));
    return db.info();
  })
  .then((info) => {
    if (info.backend_adapter !== "LevelDOWN") throw new Error("backend " + info.backend_adapter);
    return db.destroy();
  })
  .then(() => console.log(binding))
  .catch((err) => { console.error(err); process.exit(1); });
' "$work/smoke") || die "leveldb does not work in the bundle"

# The patched server, started through the launcher: the failures of pouchdb-server#374.
selftest() {
    local dir=$work/selftest port base code i
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    base=http://127.0.0.1:$port
    (cd "$dir" && exec "$stage/bin/pouchdb-server" -o 127.0.0.1 -p "$port" -d "$dir" \
        -c "$dir/config.json" -n --no-color) >"$dir/server.out" 2>&1 &
    server_pid=$!
    for ((i = 0; i < 100; i++)); do
        curl -sf --max-time 1 "$base/" >/dev/null 2>&1 && break
        kill -0 "$server_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    expect() { # STATUS CURL-ARGS...: the request must answer STATUS within 5 s
        local want=$1
        shift
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@") || code=none
        [ "$code" = "$want" ] || {
            echo "$* answered $code, expected $want" >&2
            return 1
        }
    }
    expect 200 "$base/" &&
        expect 200 -X PUT -d '"selftest"' "$base/_config/admins/admin" &&
        expect 401 -X PUT "$base/refused" &&
        expect 401 -X DELETE "$base/refused" &&
        expect 201 -u admin:selftest -X PUT "$base/accepted" &&
        expect 200 -u admin:selftest "$base/accepted" &&
        expect 201 -u admin:selftest -X PUT -H 'Content-Type: application/json' \
            -d '{"ok":1}' "$base/accepted/doc" &&
        expect 200 -u admin:selftest -X DELETE "$base/accepted" &&
        kill -0 "$server_pid" 2>/dev/null
}
if ! selftest; then
    tail -n 30 "$work/selftest/server.out" >&2 || true
    die "the staged server failed its self-test"
fi
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=

ver() { node -p "require('$stage/node_modules/$1/package.json').version"; }
{
    echo "pouchdb_server=$(ver pouchdb-server)"
    echo "express_pouchdb=$(ver express-pouchdb)"
    echo "pouchdb_core=$(ver pouchdb-core)"
    echo "leveldown=$(ver leveldown)"
    echo "leveldown_binding=$binding"
    echo "node=$(node --version)"
    echo "npm=$(npm --version)"
    echo "lockfile_sha256=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)"
    for p in "${patches[@]}"; do
        echo "patch=$(basename "$(dirname "$p")")/$(basename "$p")"
    done
} >"$stage/BUILD-INFO"
{
    cat "$src/README.md"
    printf '\n## This build\n\nStaged on %s (%s), self-tested before publishing:\n\n```\n' \
        "$(uname -sm)" "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
    cat "$stage/BUILD-INFO"
    printf '```\n'
} >"$stage/PATCHES/README"

publish "$name" "$version" \
    "npm pouchdb-server@$version (express-pouchdb $(ver express-pouchdb)) + ${#patches[@]} project patches (fix pouchdb-server#374), node $(node --version)" \
    "$inputs" "$stage"
say "$name $version staged in $((SECONDS - started)) s"
