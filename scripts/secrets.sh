#!/usr/bin/env bash
# Makes an inventory's secrets, once, in Ansible Vault, outside the clone:
#
#   scripts/secrets.sh INVENTORY        (e.g. local-cluster, devbox)
#
# ~/.config/whisk/INVENTORY/vault.yml (0600, encrypted with scripts/vault-password) holds
#   vault_couchdb_admin_password   the CouchDB admin's password
#   vault_consul_encrypt_key       Consul's gossip encryption key (base64 of 32 bytes)
#   vault_guest_auth               the guest's uuid:key (what .wskprops' AUTH holds)
# and inventory/INVENTORY/group_vars/all/vault.yml (git-ignored) links to it, so that a plain
# `ansible-playbook playbooks/site.yml` finds them. An existing vault file is kept as it is:
# the secrets of a running deployment do not change under it. `--show KEY` prints one.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
inventory=${1:?usage: scripts/secrets.sh INVENTORY [--show KEY]}
[ -d "$ROOT/inventory/$inventory" ] || { echo "secrets: no inventory/$inventory" >&2; exit 2; }
config=${WHISK_CONFIG_HOME:-$HOME/.config/whisk}/$inventory
vault=$config/vault.yml
# ansible.cfg names the password (scripts/vault-password).
export ANSIBLE_CONFIG=$ROOT/ansible.cfg
vault() { (cd "$ROOT" && .venv/bin/ansible-vault "$@"); }

if [ "${2:-}" = --show ]; then
    key=${3:?--show needs a key}
    vault view "$vault" | sed -n "s/^$key: *//p" | tr -d "'\""
    exit 0
fi

random() { head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }

if [ ! -s "$vault" ]; then
    mkdir -p "$config"
    chmod 0700 "$config"
    plain=$(mktemp)
    trap 'rm -f "$plain"' EXIT
    cat >"$plain" <<YAML
---
# Secrets of the $inventory deployment, made by scripts/secrets.sh.
vault_couchdb_admin_password: $(random 32)
vault_consul_encrypt_key: $(head -c 32 /dev/urandom | base64)
vault_guest_auth: $(cat /proc/sys/kernel/random/uuid):$(random 64)
YAML
    (umask 077 && vault encrypt --output "$vault" "$plain" >/dev/null)
    echo "secrets: made $vault"
fi
chmod 0600 "$vault"
link=$ROOT/inventory/$inventory/group_vars/all/vault.yml
mkdir -p "$(dirname "$link")"
ln -sfn "$vault" "$link"
