#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the browser tests (tests/e2e/test_web_*.py).
# Playwright's own browser download cannot work offline; the tests drive this binary instead.
# On a Debian machine without it: install it with apt-get. Fails loudly: the dashboard's
# accessibility and keyboard tests must not be skipped silently.
set -euo pipefail
BIN=${OMNIX_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$BIN" ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $BIN is missing and apt-get is not available; install Chromium" >&2
    exit 1
  fi
  echo "ensure-chromium: installing chromium (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
fi
"$BIN" --version >/dev/null 2>&1 || {
  echo "ensure-chromium: $BIN does not start" >&2
  exit 1
}
