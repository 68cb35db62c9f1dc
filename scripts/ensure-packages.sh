#!/usr/bin/env bash
# Installs the Debian packages the Go tests need when they are missing:
# PostgreSQL's server binaries, with which engine/state/pgtest starts a
# throwaway cluster per test package, chromium, which the approval
# console's browser tests drive (server/console), and haproxy, the load
# balancer of the rolling-restart test (cmd/trustgate/balancer_test.go)
# (CI runs as root on a clean machine).
set -euo pipefail
missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-packages: ${missing[*]} not installed and only root can install them" \
       "(apt-get install ${missing[*]}); the tests that need them will skip (and fail under CI=true)" >&2
  exit 0
fi
echo "ensure-packages: installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" postgresql "* ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "ensure-packages: postgresql installed but no /usr/lib/postgresql/*/bin/initdb" >&2
  exit 1
fi
if [[ " ${missing[*]} " == *" haproxy "* ]] && ! [ -x /usr/sbin/haproxy ]; then
  echo "ensure-packages: haproxy installed but no /usr/sbin/haproxy" >&2
  exit 1
fi
if [[ " ${missing[*]} " == *" chromium "* ]] && ! command -v chromium >/dev/null; then
  echo "ensure-packages: chromium installed but not on PATH" >&2
  exit 1
fi
