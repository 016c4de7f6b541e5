#!/usr/bin/env bash
# Makes sure the etcd server binary is installed (Debian package etcd-server: /usr/bin/etcd),
# for `txgrid cluster up`, `txgrid etcd start` and the tests that run a real etcd.
#
# Idempotent: does nothing when etcd is already there. Otherwise it installs etcd-server with
# apt-get (root needed) WITHOUT letting the package start its own system etcd: that one would
# listen on 2379/2380 with a data dir under /var/lib/etcd, and txgrid runs its own etcd
# processes on chosen ports and data dirs instead. Starting is prevented the Debian way, with a
# policy-rc.d that answers 101 during the install (only if the machine has none already), and
# a system etcd that runs anyway afterwards is stopped and disabled.
#
# Usage: scripts/setup-etcd.sh        (prints the path of the etcd binary on success)
set -euo pipefail

find_etcd() {
  if [ -n "${TXGRID_ETCD_BIN:-}" ] && [ -x "${TXGRID_ETCD_BIN}" ]; then
    echo "${TXGRID_ETCD_BIN}"
  elif [ -x /usr/bin/etcd ]; then
    echo /usr/bin/etcd
  elif command -v etcd >/dev/null 2>&1; then
    command -v etcd
  fi
}

existing="$(find_etcd)"
if [ -n "${existing}" ]; then
  echo "${existing}"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "setup-etcd: etcd is not installed and this is not root; run as root:" >&2
  echo "  apt-get update && apt-get install -y etcd-server" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "${policy}" ]; then
  printf '#!/bin/sh\n# written by txgrid scripts/setup-etcd.sh for one install\nexit 101\n' >"${policy}"
  chmod 755 "${policy}"
  made_policy=1
fi
cleanup() {
  if [ "${made_policy}" = "1" ]; then rm -f "${policy}"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends etcd-server >&2

# A system etcd must not hold 2379/2380 or confuse anyone reading `ps`: stop and disable it if
# the package (or systemd) started it despite the policy.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now etcd >/dev/null 2>&1 || true
elif [ -x /etc/init.d/etcd ]; then
  /etc/init.d/etcd stop >/dev/null 2>&1 || true
fi

installed="$(find_etcd)"
if [ -z "${installed}" ]; then
  echo "setup-etcd: etcd-server was installed but no etcd binary was found" >&2
  exit 1
fi
echo "${installed}"
