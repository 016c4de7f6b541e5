#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the console's browser tests, only when
# /usr/bin/chromium is missing (CI runs as root on Debian 12; a developer without root gets
# the command to run instead). Playwright's own browser download is never used: this
# machine's network reaches only the npm registry and Debian's archive.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo --non-interactive "$0" "$@"
  fi
  echo "setup-chromium: run as root: apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
echo "setup-chromium: installing Debian's chromium and chromium-driver" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
/usr/bin/chromium --version >&2
