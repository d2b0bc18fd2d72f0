#!/usr/bin/env bash
# Debian packages the deployment tests need: PostgreSQL (the history tests
# and the scale test start throwaway servers from it), nginx and wrk (the
# scale test), curl, podman with runc and debootstrap (the container image
# test builds its base image from Debian's archive), and systemd (for
# `systemd-analyze verify` of the unit file). Through sudo when not root.
set -euo pipefail
PACKAGES=(postgresql nginx-light wrk curl podman runc debootstrap systemd)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" = 0 ] && exit 0
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)
echo "installing: ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
# Debian's postgresql and nginx packages try to start their services; the
# tests start their own, so policy-rc.d keeps those from starting.
POLICY=/usr/sbin/policy-rc.d
ADDED_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod +x "$POLICY"
    ADDED_POLICY=1
fi
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
[ "$ADDED_POLICY" = 1 ] && "${SUDO[@]}" rm -f "$POLICY"
exit 0
