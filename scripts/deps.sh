#!/usr/bin/env bash
# Installs the Debian packages apivalue needs to build, test and demo.
# Idempotent: installs only what is missing.  Needs root (or sudo).
set -euo pipefail

pkgs=(build-essential pkg-config libicu-dev
      postgresql-15 postgresql-server-dev-15 postgresql-contrib postgresql-common
      postgresql-15-cron postgresql-15-partman
      libxml2-utils python3 sqlsmith lcov valgrind)
pkgs+=("$@")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "apivalue: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
