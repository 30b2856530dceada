#!/usr/bin/env bash
# Installs Express Gateway (npm `express-gateway`, pinned with its lockfile in
# tests/express-gateway/) for tests/express_gateway.rs, which starts it with
# node. Skips `npm ci` while the lockfile is unchanged; prints one line.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=tests/express-gateway
if ! command -v node >/dev/null 2>&1; then
  echo "express-gateway: node is not installed (apt-get install nodejs npm)" >&2
  exit 1
fi
stamp=$dir/node_modules/.installed-lock
if ! cmp -s "$dir/package-lock.json" "$stamp"; then
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! npm ci --prefix "$dir" --no-audit --no-fund >"$log" 2>&1; then
    cat "$log" >&2
    echo "express-gateway: npm ci failed" >&2
    exit 1
  fi
  cp "$dir/package-lock.json" "$stamp"
fi
echo "express-gateway: $(node -p "require('./$dir/node_modules/express-gateway/package.json').version") installed in $dir (node $(node --version))"
