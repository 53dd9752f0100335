#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need.
# Runs apt-get only when something is missing, so a second run costs nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates openssl
  libcurl4-openssl-dev libjson-c-dev libmicrohttpd-dev libcriterion-dev
  valgrind curl jq
  python3-prometheus-client
  clang libclang-rt-14-dev
  dpkg-dev lintian systemd
  cppcheck clang-format groff
)
# dpkg-dev: dpkg-shlibdeps computes the .deb's Depends (scripts/package.sh);
# lintian checks the package; systemd: systemd-analyze verifies the unit;
# cppcheck: scripts/cppcheck.sh (static analysis, warning level);
# clang-format: scripts/format_check.sh; groff: the man pages' lint (cli_docs).

# The Rust host (hosts/rust) needs cargo; Debian's (Rust 1.63) is enough.
command -v cargo >/dev/null 2>&1 || packages+=(cargo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
