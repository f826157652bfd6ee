#!/bin/sh
# Runs inside the freshly debootstrapped root file system (chroot, /proc mounted), after
# scripts/images.sh has written the apt sources and copied rootfs/ over it. Brings the
# packages up to bookworm-updates/-security, then strips what an image never needs.
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

apt-get update -qq
apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade >/dev/null
apt-get -y -qq autoremove >/dev/null
apt-get clean

# Apply the dpkg path-exclude rules of /etc/dpkg/dpkg.cfg.d/docker-slim to the files
# debootstrap unpacked before those rules were in place.
find /usr/share/doc -mindepth 1 -not -type d -not -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
for d in /usr/share/groff /usr/share/info /usr/share/linda /usr/share/lintian/overrides \
         /usr/share/man; do
    [ -d "$d" ] && find "$d" -mindepth 1 -delete
done
[ -d /usr/share/locale ] &&
    find /usr/share/locale -mindepth 1 -not -name locale.alias -not -type d -delete &&
    find /usr/share/locale -mindepth 1 -type d -empty -delete
for n in 1 2 3 4 5 6 7 8; do mkdir -p "/usr/share/man/man$n"; done

# No package lists, caches, logs or host identity in the image. Docker bind-mounts its own
# /etc/resolv.conf, /etc/hostname and /etc/hosts into every container.
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old
mkdir -p /var/lib/apt/lists/partial /var/cache/apt/archives/partial
find /var/log -type f -delete
rm -rf /tmp/* /var/tmp/* /root/.cache
rm -f /etc/machine-id /var/lib/dbus/machine-id
: >/etc/hostname
: >/etc/resolv.conf
chmod 0644 /etc/hostname /etc/resolv.conf
