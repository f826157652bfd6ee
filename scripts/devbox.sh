#!/usr/bin/env bash
# The Vagrant dev box (Vagrantfile, inventory/devbox), behind `make up` and `make down`:
#
#   scripts/devbox.sh up          secrets (scripts/secrets.sh devbox), `vagrant up --provision`
#                                 (playbooks/site.yml; on a running box it provisions again),
#                                 the seed's workflow as a smoke test, then how to reach it
#   scripts/devbox.sh smoke       waits for the platform, then the seed's workflow through nginx
#   scripts/devbox.sh reload      `vagrant reload` (the box restarts), then smoke
#   scripts/devbox.sh acceptance  on a running box: up again (its recap must say changed=0),
#                                 the smoke test, tests/infra against the box, then reload;
#                                 what `make test` checks
#   scripts/devbox.sh down        `vagrant destroy` (the box, its volume and network go)
#
# Each phase prints its elapsed time. Vagrant's output (with Ansible's recap) is kept in
# $WHISK_TEST_LOGS/devbox-*.log.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH=$ROOT/.venv/bin:$PATH
export ANSIBLE_CONFIG=$ROOT/ansible.cfg
export VAGRANT_CHECKPOINT_DISABLE=1
export VAGRANT_DEFAULT_PROVIDER=${VAGRANT_DEFAULT_PROVIDER:-docker}
BOX=whisk-devbox
API_PORT=${WHISK_DEVBOX_API_PORT:-31443}
# Where the cli role writes the guest's .wskprops (inventory/devbox/group_vars).
export WHISK_WSKPROPS=${WHISK_WSKPROPS:-$ROOT/.wskprops}
WSKPROPS=$WHISK_WSKPROPS
LOGS=${WHISK_TEST_LOGS:-$ROOT/test-logs}
READY_TIMEOUT_S=${WHISK_DEVBOX_READY_TIMEOUT_S:-300}
mkdir -p "$LOGS"
STEPS_PREFIX=devbox
# shellcheck source=scripts/steps.sh
source "$ROOT/scripts/steps.sh"

# vagrant_logged LOG ARGS...: runs vagrant, its output on the terminal and in LOG.
vagrant_logged() {
    local log=$1
    shift
    vagrant "$@" 2>&1 | tee "$log"
    return "${PIPESTATUS[0]}"
}

provision() { vagrant_logged "$LOGS/devbox-up.log" up --provision; }

in_box() { docker exec "$BOX" "$@"; }

# ready: the API answers through the forwarded port and the controller sees a healthy
# invoker in Consul (after a reload the services start in their own time).
ready() {
    local deadline=$(($(date +%s) + READY_TIMEOUT_S)) state=""
    until curl -ksf -o /dev/null "https://127.0.0.1:$API_PORT/api/v1"; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "devbox: the API did not answer on :$API_PORT" >&2; return 1; }
        sleep 2
    done
    until [[ $state == *'"state": "healthy"'* || $state == *'"state":"healthy"'* ]]; do
        [ "$(date +%s)" -lt "$deadline" ] || {
            echo "devbox: no healthy invoker after ${READY_TIMEOUT_S} s (controller0's view: ${state:-none})" >&2
            return 1
        }
        sleep 2
        # The agent's health of invoker0 (200 only while its TTL check passes: fresh after a
        # restart), then controller0's view of it.
        state=$(in_box python3 -c 'import urllib.request as u
consul = "http://127.0.0.1:8500/v1"
u.urlopen(consul + "/agent/health/service/id/invoker0", timeout=5)
print(u.urlopen(consul + "/kv/whisk/invokers/invoker0/state/controller0?raw", timeout=5).read().decode())' \
            2>/dev/null || true)
    done
    echo "devbox: the API answers and invoker0 is healthy"
}

smoke() {
    phase "wait for the platform" ready
    phase "smoke test (the seed's workflow through nginx over HTTPS)" \
        python scripts/smoke.py --wskprops "$WSKPROPS"
}

# infra: the deployment's testinfra checks (tests/infra, as on the cluster) against the box,
# through the Docker connection (hosts.yml alone: vm.yml names the VM providers' SSH host).
infra() {
    pytest -c tests/infra/pytest.ini --rootdir tests/infra --ansible-inventory=inventory/devbox/hosts.yml \
        --connection=ansible --wskprops="$WSKPROPS" --junitxml="$LOGS/devbox-infra.xml" tests/infra -v
}

report() {
    local auth
    auth=$(sed -n 's/^AUTH=//p' "$WSKPROPS")
    echo
    echo "devbox: the platform is up on the dev box $BOX (vagrant status; make down removes it)"
    echo "devbox: API host  https://127.0.0.1:$API_PORT  (nginx on the box, the platform's own CA:"
    echo "devbox:           ~/.config/whisk/devbox/tls/ca.crt, or wsk -i)"
    echo "devbox: guest key $auth"
    echo "devbox: both are in $WSKPROPS; for .venv/bin/wsk run:"
    echo "export WSK_CONFIG_FILE=$WSKPROPS"
}

case ${1:-} in
    up)
        phase "secrets" bash scripts/secrets.sh devbox
        phase "vagrant up --provision (playbooks/site.yml)" provision
        smoke
        report
        ;;
    smoke)
        smoke
        ;;
    reload)
        phase "vagrant reload" vagrant_logged "$LOGS/devbox-reload.log" reload
        smoke
        ;;
    acceptance)
        phase "up again (re-provision)" provision
        phase "recap: changed=0" recap_unchanged "$LOGS/devbox-up.log"
        smoke
        phase "tests/infra on the dev box" infra
        phase "vagrant reload" vagrant_logged "$LOGS/devbox-reload.log" reload
        smoke
        ;;
    down)
        bash scripts/thaw-nested.sh "$BOX"
        phase "vagrant destroy" vagrant destroy -f
        ;;
    *)
        echo "usage: scripts/devbox.sh up|smoke|reload|acceptance|down" >&2
        exit 2
        ;;
esac
