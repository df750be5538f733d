#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on localhost:5432 with database `test` (trust auth),
# as the project's machines provide. On a fresh Debian machine without one: install and start it.
# Fails loudly: the portability tests must not be skipped silently.
set -euo pipefail
HOST=localhost PORT=5432

ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }

if ! ready; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "ensure-postgres: installing PostgreSQL (apt-get)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    installed=1
  fi
  version=$(ls /etc/postgresql | sort -n | tail -1)
  if [ "${installed:-0}" = 1 ]; then
    # trust local TCP connections, as on the project machines (a test server only)
    hba=/etc/postgresql/$version/main/pg_hba.conf
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
ready || { echo "ensure-postgres: no PostgreSQL on $HOST:$PORT and it could not be started" >&2; exit 1; }
if ! psql -h "$HOST" -p "$PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
  createdb -h "$HOST" -p "$PORT" -U postgres test
fi
