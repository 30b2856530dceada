#!/usr/bin/env bash
# Runs the browser tests (tests/browser/) against target/release/portico in
# Debian's headless Chromium. Installs Chromium (apt) and playwright-core (npm,
# no browser download) only when missing; prints one line on success and the
# full output on failure. Set UPDATE_SCREENSHOT=1 to refresh docs/screenshot.png.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs a command silently; on failure shows its output and stops.
quietly() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "browser-test: failed: $*" >&2
    exit 1
  fi
}

bin=${PORTICO_BIN:-target/release/portico}
if [[ ! -x $bin ]]; then
  echo "browser-test: $bin not found; run \`cargo build --release -p portico\` or set PORTICO_BIN" >&2
  exit 1
fi

chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  # A fresh image has no package lists, and stale ones point at removed files.
  quietly "${sudo[@]}" apt-get update -qq
  quietly "${sudo[@]}" apt-get install -y -qq chromium
fi

# npm ci starts from scratch each time, so skip it while the lockfile is unchanged.
stamp=tests/browser/node_modules/.installed-lock
if ! cmp -s tests/browser/package-lock.json "$stamp"; then
  quietly env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund
  cp tests/browser/package-lock.json "$stamp"
fi

if ! node --test --test-reporter=spec tests/browser/ >"$log" 2>&1; then
  cat "$log" >&2
  echo "browser-test: FAILED (screenshots in tests/browser/screenshots/)" >&2
  exit 1
fi
echo "browser-test: $(grep -Eo 'tests [0-9]+' "$log" | tail -1 | cut -d' ' -f2) tests passed"
