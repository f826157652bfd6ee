#!/usr/bin/env bash
# Installs the Debian packages the project needs on this machine and makes sure a Docker
# Engine answers. Idempotent: a second run installs nothing and returns in about a second.
#
# Where systemd is PID 1 the engine is started through its unit; elsewhere (CI sandboxes,
# containers) dockerd is started directly with a pidfile and a log file.
set -euo pipefail

log() { printf 'prereqs: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "prereqs: run as root (apt-get and dockerd need it)" >&2
    exit 1
fi

# Debian packages, by the command or file each one provides, so that the check is cheap.
declare -A wanted=(
    [docker.io]=/usr/sbin/dockerd
    [debootstrap]=/usr/sbin/debootstrap
    [zookeeper]=/usr/share/java/zookeeper.jar
    [default-jre-headless]=/usr/bin/java
    [maven]=/usr/bin/mvn
    [nginx]=/usr/sbin/nginx
    [curl]=/usr/bin/curl
    [iproute2]=/usr/sbin/ip
    [patch]=/usr/bin/patch
    [make]=/usr/bin/make
    [git]=/usr/bin/git
    [ca-certificates]=/etc/ssl/certs/ca-certificates.crt
    [nodejs]=node
    [npm]=npm
    [golang-go]=go
    # Vagrant drives the dev box of `make up` (its docker provider; the recommended
    # vagrant-libvirt would pull qemu and libvirt, which --no-install-recommends leaves out).
    [vagrant]=/usr/bin/vagrant
)
missing=()
for pkg in "${!wanted[@]}"; do
    probe=${wanted[$pkg]}
    if [[ $probe == /* ]]; then
        [ -e "$probe" ] || missing+=("$pkg")
    else
        command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
    fi
done

# python3 -m venv needs ensurepip, which Debian ships apart from python3 itself.
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx must not start and hold port 80 on the build host: it is a package we test, not a
    # service this machine runs. policy-rc.d keeps every package's service stopped.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
else
    log "Debian packages present"
fi

# Go >= 1.21 builds Consul; Debian 12's own golang-go is 1.19, so say so plainly.
go_minor=$(go env GOVERSION 2>/dev/null | sed -E 's/^go1\.([0-9]+).*/\1/' || echo 0)
if [ "${go_minor:-0}" -lt 21 ] 2>/dev/null; then
    log "warning: Go >= 1.21 is needed to build Consul (found $(go env GOVERSION 2>/dev/null || echo none));" \
        "put a newer Go first on PATH or stage Consul on another machine (make artifacts)"
fi

# Every cgroup v1 controller mounted here before any test host boots systemd on this tree
# (see the script: otherwise Docker stops noticing OOM kills).
bash "$(dirname "${BASH_SOURCE[0]}")/cgroup-controllers.sh"

docker_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if docker_answers; then
    log "Docker Engine answers ($(docker version --format '{{.Server.Version}}'))"
    exit 0
fi

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    log "starting docker.service"
    systemctl enable --now docker.service
else
    pidfile=/run/docker.pid
    logfile=/var/log/dockerd.log
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        log "dockerd already running (pid $(cat "$pidfile")), waiting for it"
    else
        rm -f "$pidfile"
        log "starting dockerd (log: $logfile)"
        # setsid: the engine must outlive the make or CI step that started it.
        setsid /usr/sbin/dockerd --pidfile "$pidfile" >>"$logfile" 2>&1 </dev/null &
    fi
fi

for _ in $(seq 1 60); do
    if docker_answers; then
        log "Docker Engine answers ($(docker version --format '{{.Server.Version}}'))"
        exit 0
    fi
    sleep 0.5
done
echo "prereqs: Docker Engine did not answer within 30 s; see /var/log/dockerd.log" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
