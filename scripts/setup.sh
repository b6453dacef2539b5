#!/usr/bin/env bash
# Installs everything Herald needs to build, test and run on Debian 12.
# Idempotent: when every package is present it prints nothing and exits 0.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libboost-dev libboost-program-options-dev
  libhiredis-dev libcurl4-openssl-dev libssl-dev
  libprotobuf-dev protobuf-compiler
  libkainjow-mustache-dev libhowardhinnant-date-dev tzdata
  libphonenumber-dev libre2-dev libsodium-dev liblz4-dev libgoogle-perftools-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev
  redis-server redis-tools python3 python3-aiosmtpd wrk curl valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server as a service on install; Herald runs its own instances.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
