#!/usr/bin/env bash
# Installs the Debian packages the Go tests need when they are missing:
# PostgreSQL's server binaries, with which engine/state/pgtest starts a
# throwaway cluster per test package (CI runs as root on a clean machine).
set -euo pipefail
if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-packages: PostgreSQL is not installed and only root can install it" \
       "(apt-get install postgresql); the tests that need it will skip (and fail under CI=true)" >&2
  exit 0
fi
echo "ensure-packages: installing PostgreSQL from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || {
  echo "ensure-packages: postgresql installed but no /usr/lib/postgresql/*/bin/initdb" >&2
  exit 1
}
