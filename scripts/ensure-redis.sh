#!/usr/bin/env bash
# Make sure a Redis server answers on localhost:6379, as the project's machines provide. On a
# fresh Debian machine without one: install and start it. Fails loudly: the Redis cache tests
# must not be skipped silently.
set -euo pipefail
HOST=localhost PORT=6379

ready() { redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null | grep -q PONG; }

if ! ready; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "ensure-redis: installing Redis (apt-get)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  # no init system in containers: start it ourselves, in the background
  redis-server --port "$PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    >/dev/null
  for _ in $(seq 1 30); do ready && break; sleep 0.5; done
fi
ready || { echo "ensure-redis: no Redis on $HOST:$PORT and it could not be started" >&2; exit 1; }
