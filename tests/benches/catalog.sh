#!/usr/bin/env bash
# Catalogue benchmark (figures go in BENCHMARKS.md):
#   1. import every spec of ../shared/corpus/openapi as API entities;
#   2. import 100,000 generated entities;
#   3. serve them and load two endpoints with wrk (a second process):
#      a full-text search and /api/catalog/entities?filter=kind=api&limit=50;
#   4. the server's resident memory after the load.
# Usage: tests/benches/catalog.sh [ENTITIES] (default 100000). Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-100000}
corpus=${CORPUS:-../shared/corpus/openapi}
bin=target/release/portico
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -q -p portico

work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

echo "## corpus import"
n=$(python3 tests/benches/gen-corpus-catalog.py "$corpus" "$work/corpus")
/usr/bin/time -f "%e s wall, %M KiB max RSS" $bin catalog import "$work/corpus" --data-dir "$work/corpus-data" | head -3
echo "($n specs)"

echo "## import of $count generated entities"
python3 tests/benches/gen-catalog.py "$count" "$work/generated"
/usr/bin/time -f "%e s wall, %M KiB max RSS" $bin catalog import "$work/generated" --data-dir "$work/data" | head -1
echo "## re-import (nothing changed)"
/usr/bin/time -f "%e s wall" $bin catalog import "$work/generated" --data-dir "$work/data" | head -1

$bin serve --listen 127.0.0.1:0 --data-dir "$work/data" > "$work/serve.out" 2> "$work/serve.err" &
server=$!
while ! grep -q "listening on" "$work/serve.out"; do sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out")

echo "## uncached searches: 40 distinct queries one at a time (seconds: median, max)"
for i in $(seq 1 40); do
  words=(billing payments orders search inventory shipping users pets)
  curl -s -o /dev/null -w '%{time_total}\n' "$base/api/v1/apis?q=${words[$((i % 8))]}%20$((i * 7))"
  curl -s -o /dev/null -w '%{time_total}\n' "$base/api/v1/apis?q=${words[$((i % 8))]}&offset=$i"
done | sort -n | awk '{a[NR]=$1} END {print "median " a[int((NR+1)/2)] ", max " a[NR] " (" NR " requests)"}'

for path in "/api/v1/apis?q=payments" "/api/catalog/entities?filter=kind=api&limit=50"; do
  echo "## wrk -t2 -c32 -d15s --latency $path"
  wrk -t2 -c32 -d15s --latency "$base$path" | grep -E "50%|99%|Requests/sec|Non-2xx"
done
echo "## wrk -t2 -c8 -d10s --latency (8 connections) on both"
for path in "/api/v1/apis?q=payments" "/api/catalog/entities?filter=kind=api&limit=50"; do
  wrk -t2 -c8 -d10s --latency "$base$path" | grep -E "50%|99%|Requests/sec|Non-2xx"
done
echo "## server memory after load"
grep -E "VmRSS|VmHWM" /proc/$server/status
