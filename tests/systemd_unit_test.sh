#!/usr/bin/env bash
# ctest systemd_unit: pmd-node.service as installed passes
# `systemd-analyze verify` (no output at all: systemd only warns about an
# unknown key or a bad value), keeps the settings the README promises, keeps
# unshare(2) allowed for the plugin's private descriptor table
# (unshare(CLONE_FILES) on its network thread), and stays in the "OK"
# exposure band of `systemd-analyze security`.
#
#   tests/systemd_unit_test.sh BUILD_DIR
# The unit comes from `cmake --install` into a temporary prefix, so every
# path it names exists and verify checks the executables for real.
# Exit 77 (ctest: skipped) when systemd-analyze is missing or cannot run here.
set -euo pipefail
build=$(cd "$1" && pwd)

command -v systemd-analyze >/dev/null ||
  { echo "systemd_unit: systemd-analyze not installed (scripts/deps.sh installs package systemd)"; exit 77; }
systemd-analyze --version >/dev/null 2>&1 ||
  { echo "systemd_unit: systemd-analyze cannot run in this container"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "systemd_unit: FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$work/p" >/dev/null
unit=$work/p/lib/systemd/system/pmd-node.service
[ -f "$unit" ] || fail "cmake --install wrote no lib/systemd/system/pmd-node.service"
! grep -n '@[A-Z_]*@' "$unit" || fail "placeholders left in the unit"

# verify: any line of output is a finding. The man page named in
# Documentation= is not installed on this machine: --man=no.
out=$(cd "$work" && systemd-analyze verify --man=no "$unit" 2>&1) || {
  if grep -qi 'Failed to \(initialize\|create\) manager\|not been booted\|Operation not permitted' <<<"$out"; then
    echo "systemd_unit: systemd-analyze verify cannot run in this container: $out"; exit 77
  fi
  echo "$out"; fail "systemd-analyze verify failed"
}
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify reported the above"; }
echo "systemd_unit: systemd-analyze verify: clean"

# What the README and the issue promise.
for setting in Type=notify WatchdogSec= Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID' \
               LoadCredential=api-token: DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict \
               ProtectHome=yes PrivateTmp=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
               CapabilityBoundingSet= SystemCallFilter=@system-service; do
  grep -q "^$setting" "$unit" || fail "the unit lacks $setting"
done
grep -q '^CapabilityBoundingSet=$' "$unit" || fail "CapabilityBoundingSet= must be empty"

# unshare(CLONE_FILES) stays allowed: unshare is in the allowed set, no deny
# list names it (or its group), and RestrictNamespaces= only filters the
# CLONE_NEW* flags, never CLONE_FILES.
# The system calls of a filter entry, groups expanded (a group lists
# system calls and other groups, indented, after its heading).
expand() {
  case $1 in
    @*) systemd-analyze syscall-filter "$1" | sed -n 's/^    \([@a-z0-9_]*\)$/\1/p' |
          while read -r entry; do expand "$entry"; done ;;
    *) echo "$1" ;;
  esac
}
grep -qx unshare <<<"$(expand @system-service)" || fail "unshare is not in @system-service on this systemd"
for deny in $(sed -n 's/^SystemCallFilter=~//p' "$unit"); do
  ! grep -qx unshare <<<"$(expand "$deny")" || fail "SystemCallFilter=~$deny denies unshare"
done
echo "systemd_unit: unshare allowed (RestrictNamespaces=$(sed -n 's/^RestrictNamespaces=//p' "$unit") filters CLONE_NEW* only)"

# Exposure (0 = locked down, 10 = unprotected); systemd calls < 4 "OK".
exposure=$(cd "$work" && systemd-analyze security --offline=true --man=no "$unit" 2>&1 |
  sed -n 's/.*Overall exposure level for pmd-node.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || { echo "systemd_unit: systemd-analyze security gave no figure (offline mode unsupported?)"; exposure=0; }
echo "systemd_unit: exposure $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }' || fail "exposure $exposure above 3.0"
echo "systemd_unit: OK"
