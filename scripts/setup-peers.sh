#!/usr/bin/env bash
# Installs the peers of `txgrid bench --peers` from Debian (12) packages, only what is missing:
#   redis:    redis-server redis-tools   (redis-server, redis-cli, redis-benchmark)
#   postgres: postgresql                 (initdb, postgres, psql, pgbench)
# Usage: scripts/setup-peers.sh [redis] [postgres]   (no argument: both). Needs root and apt.
# Idempotent: with everything installed it changes nothing and needs neither root nor network.
#
# The bench never uses the packages' own services: it starts private instances on 127.0.0.1 on
# its own ports and directories. So that installing does not start the Debian services (Redis on
# 6379, the "main" PostgreSQL cluster on 5432), a policy-rc.d denying service starts is put in
# place for the duration of the install when none exists.
set -euo pipefail

peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(redis postgres)
packages=()
for peer in "${peers[@]}"; do
  case "$peer" in
    redis) packages+=(redis-server redis-tools) ;;
    postgres) packages+=(postgresql) ;;
    *) echo "setup-peers: unknown peer '$peer' (redis, postgres)" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-peers: already installed: ${packages[*]}"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-peers: need root to install ${missing[*]} (apt-get)" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
created_policy=no
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by txgrid scripts/setup-peers.sh during an install\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=yes
fi
cleanup() { if [ "$created_policy" = yes ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "setup-peers: installing ${missing[*]}"
# A fresh machine may have no package lists yet: update first when the install cannot resolve.
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
echo "setup-peers: installed ${missing[*]}"
