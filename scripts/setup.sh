#!/usr/bin/env bash
# Installs every Debian package para-cpp needs to build, run and test.
# Idempotent: packages already present are skipped, so `make run` / `make test`
# can call it every time. Uses apt-get directly as root, sudo otherwise.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git clang-format clang libclang-rt-14-dev
  # product libraries (Boost 1.81 explicitly: Debian 12 defaults to 1.74)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libpq-dev libspdlog-dev libfmt-dev libcli11-dev
  libmosquitto-dev mosquitto mosquitto-clients openssl libcurl4-openssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 wrk curl
)
# Node.js may come from Debian or from NodeSource (which bundles npm and
# conflicts with Debian's npm package): only ask apt for what is absent.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
