#!/usr/bin/env bash
# Fuzzes the portal's own API with schemathesis: starts the release binary with
# demo content on a free port, runs every check in every phase against
# /openapi.json, as the admin and as an anonymous visitor, and stops the server.
# Prints one line when all is well and schemathesis's full report when not.
# Needs `target/release/portico` (scripts/test.sh builds it) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
venv=target/schemathesis-venv
if ! "$venv/bin/st" --version 2>/dev/null | grep -qF "$version"; then
  rm -rf "$venv"
  # Debian's python3 has no venv module without python3-venv.
  python3 -m venv "$venv" 2>/dev/null || {
    rm -rf "$venv"
    apt-get install -y python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token"
printf 'admin_token = "file:%s"\n' "$work/token" >"$work/portico.toml"
mkfifo "$work/stdout"
target/release/portico serve --demo --config "$work/portico.toml" \
  --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/server.log" &
server=$!

# The server prints `listening on http://ADDR` once its socket is bound.
url=
while IFS= read -r -t 300 line; do
  case "$line" in "listening on "*) url=${line#listening on }; break ;; esac
done <"$work/stdout"
# Keep draining stdout so the server never blocks on a full pipe.
cat "$work/stdout" >/dev/null &
if [ -z "$url" ]; then
  echo "schemathesis.sh: the server did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
ready() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$url/readyz" 2>/dev/null
}
until ready; do
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

root=$(pwd)
run() {
  local who=$1
  shift
  # In the scratch directory, so hypothesis's example database stays out of the tree.
  if ! (cd "$work" && "$root/$venv/bin/st" --no-color --config-file "$root/scripts/schemathesis.toml" \
    run "$url/openapi.json" --checks all --phases examples,coverage,fuzzing,stateful "$@") \
    >"$work/report-$who.txt" 2>&1; then
    echo "schemathesis.sh: schemathesis found problems in the API ($who):" >&2
    cat "$work/report-$who.txt" >&2
    return 1
  fi
  summary=$(grep -oE '[0-9]+ generated' "$work/report-$who.txt" | tail -1)
}

started=$SECONDS
run admin -H "Authorization: Bearer $(cat "$work/token")"
admin=$summary
run anonymous
echo "schemathesis.sh: /openapi.json holds: no failures, no errors ($admin cases as admin, $summary anonymously) in $((SECONDS - started)) s"
