#!/usr/bin/env bash
# The three-host local cluster (inventory/local-cluster):
#
#   scripts/cluster.sh up      secrets (scripts/secrets.sh), hosts (playbooks/local-cluster.yml),
#                              the platform (playbooks/site.yml), the guest's .wskprops in the
#                              repository root; prints how to use it
#   scripts/cluster.sh verify  the acceptance checks on the running cluster: a second
#                              site.yml changes nothing, --check --diff reports no change,
#                              tests/infra passes (the seed's workflow through nginx among them)
#   scripts/cluster.sh upgrade a rolling upgrade to the next version under an invoke load
#                              (tests/upgrade: no activation lost, the API reports it)
#   scripts/cluster.sh down    removes the hosts, their volumes and the network
#
# `make cluster-up` / `make cluster-down` run it after the prerequisites, artifacts and
# images. Each phase prints its elapsed time. Ansible's recap of site.yml is kept in
# $WHISK_TEST_LOGS/cluster-site.log for the checks that read it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH=$ROOT/.venv/bin:$PATH
export ANSIBLE_CONFIG=$ROOT/ansible.cfg
INVENTORY=inventory/local-cluster
# Where the cli role writes the guest's .wskprops (inventory/local-cluster/group_vars).
export WHISK_WSKPROPS=${WHISK_WSKPROPS:-$ROOT/.wskprops}
LOGS=${WHISK_TEST_LOGS:-$ROOT/test-logs}
mkdir -p "$LOGS"
STEPS_PREFIX=cluster
# shellcheck source=scripts/steps.sh
source "$ROOT/scripts/steps.sh"

site() {
    ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_roles \
        ansible-playbook -i "$INVENTORY" playbooks/site.yml "$@" 2>&1 | tee "$LOGS/cluster-site.log"
    return "${PIPESTATUS[0]}"
}

second_run() {
    ansible-playbook -i "$INVENTORY" playbooks/site.yml >"$LOGS/cluster-site-again.log" 2>&1 ||
        { tail -40 "$LOGS/cluster-site-again.log"; return 1; }
    recap_unchanged "$LOGS/cluster-site-again.log"
}

check_mode() {
    ansible-playbook -i "$INVENTORY" playbooks/site.yml --check --diff \
        >"$LOGS/cluster-site-check.log" 2>&1 || { tail -40 "$LOGS/cluster-site-check.log"; return 1; }
    recap_unchanged "$LOGS/cluster-site-check.log"
}

infra() {
    pytest -c tests/infra/pytest.ini --rootdir tests/infra --ansible-inventory="$INVENTORY" \
        --connection=ansible --wskprops="$WHISK_WSKPROPS" --junitxml="$LOGS/infra.xml" tests/infra -v
}

case ${1:-} in
    up)
        # The secrets first: the inventory's variables refer to them.
        phase "secrets" bash scripts/secrets.sh local-cluster
        phase "hosts" ansible-playbook -i "$INVENTORY" playbooks/local-cluster.yml
        phase "platform (playbooks/site.yml)" site
        echo
        echo "cluster: the API is at https://172.31.230.11 (nginx on whisk-host-1, the platform's own CA)"
        echo "cluster: the guest's key is in $WHISK_WSKPROPS; for .venv/bin/wsk run:"
        echo "export WSK_CONFIG_FILE=$WHISK_WSKPROPS"
        ;;
    verify)
        phase "second site.yml (changed=0)" second_run
        phase "site.yml --check --diff (no change)" check_mode
        phase "tests/infra" infra
        ;;
    upgrade)
        phase "rolling upgrade under load (tests/upgrade)" env WSK_CONFIG_FILE="$WHISK_WSKPROPS" \
            pytest -c tests/upgrade/pytest.ini \
            --rootdir tests/upgrade --junitxml="$LOGS/upgrade.xml" tests/upgrade
        ;;
    down)
        # The inventory's hosts only: other tiers' boxes may be running beside them.
        mapfile -t hosts < <(ansible-inventory -i "$INVENTORY" --list 2>/dev/null |
            python3 -c 'import json, sys; print(*json.load(sys.stdin)["_meta"]["hostvars"], sep="\n")' ||
            true)
        [ ${#hosts[@]} = 0 ] || bash scripts/thaw-nested.sh "${hosts[@]}"
        phase "remove the hosts" ansible-playbook -i "$INVENTORY" playbooks/local-cluster.yml \
            -e local_cluster_state=absent
        ;;
    *)
        echo "usage: scripts/cluster.sh up|verify|upgrade|down" >&2
        exit 2
        ;;
esac
