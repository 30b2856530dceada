#!/usr/bin/env bash
# Key verification benchmark (figures go in BENCHMARKS.md, "Key verification"):
# a release `portico serve` with one API, a product whose plan has a rate
# limit and a quota (both far out of reach, so every call takes the whole
# path), a developer's app and a production key; then wrk (a second process)
# sends GET /api/v1/keys/verify as Caddy's forward_auth does (the key in
# X-API-Key, the call in X-Forwarded-Host/-Uri/-Method), three runs at each
# concurrency. Every call is a 200 and a usage event.
# Usage: tests/benches/verify.sh [SECONDS] (default 10); NO_BUILD=1 uses the
# release binary as it is. Needs wrk (apt-get install wrk) and sqlite3.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
bin=target/release/portico
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }
[[ -n ${NO_BUILD:-} ]] || cargo build --release -q -p portico

work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
data=$work/data
mkdir -p "$data/catalog"
cat > "$data/catalog/catalog-info.yaml" <<'EOF'
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: pets, title: Pets}
spec:
  type: openapi
  lifecycle: production
  owner: pets-team
  definition: {$text: ./pets.yaml}
EOF
cat > "$data/catalog/pets.yaml" <<'EOF'
openapi: 3.0.3
info: {title: Pets, version: 1.0.0}
servers:
  - {url: 'http://api.example.com/v1', description: Production}
  - {url: 'http://api.example.com/sandbox/v1', description: Sandbox}
paths:
  /pets:
    get: {summary: List pets, responses: {'200': {description: ok}}}
  /pets/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get: {summary: Read a pet, responses: {'200': {description: ok}}}
    post: {summary: Tag a pet, responses: {'201': {description: ok}}}
EOF
PORTICO_PASSWORD=bench-password-1 $bin user add dev --role developer --data-dir "$data" >/dev/null
$bin catalog import "$data/catalog" --data-dir "$data" >/dev/null
echo bench-admin-token > "$work/admin-token"
echo "admin_token = \"file:$work/admin-token\"" > "$work/portico.toml"

$bin serve --listen 127.0.0.1:0 --config "$work/portico.toml" --data-dir "$data" > "$work/serve.out" 2> "$work/serve.err" &
server=$!
while ! grep -q "listening on" "$work/serve.out"; do sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out")

# The product and plan as the admin; the app, subscription and key as the
# developer, signed in through the login form (cookies and CSRF by hand).
key=$(python3 - "$base" <<'EOF'
import json, re, sys, urllib.request, urllib.parse
base = sys.argv[1]
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args): return None
opener = urllib.request.build_opener(NoRedirect)
def call(method, path, body=None, headers={}):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    if isinstance(body, dict):
        request.add_header("content-type", "application/json")
    try:
        response = opener.open(request)
    except urllib.error.HTTPError as e:
        response = e
    return response.status, response.headers, response.read().decode()
def cookie(headers, name):
    for value in headers.get_all("set-cookie") or []:
        if value.startswith(name + "="):
            return value.split(";")[0]
def csrf(html):
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
admin = {"authorization": "Bearer bench-admin-token"}
call("POST", "/api/v1/products", {"name": "pets", "title": "Pets", "apis": ["default/pets"]}, admin)
_, _, plan = call("POST", "/api/v1/products/pets/plans", {"name": "bench", "title": "Bench",
    "rate_limit": 1000000000, "rate_period_secs": 1, "quota": 1000000000000, "quota_period": "month"}, admin)
plan = json.loads(plan)["id"]
_, headers, page = call("GET", "/auth/login")
pre = cookie(headers, "portico_csrf")
form = urllib.parse.urlencode({"username": "dev", "password": "bench-password-1", "csrf": csrf(page), "next": "/profile"}).encode()
_, headers, _ = call("POST", "/auth/login", form, {"cookie": pre, "content-type": "application/x-www-form-urlencoded"})
session = cookie(headers, "portico_session")
_, _, profile = call("GET", "/profile", None, {"cookie": session})
dev = {"cookie": session, "x-csrf-token": csrf(profile)}
_, _, app = call("POST", "/api/v1/apps", {"name": "bench"}, dev)
app = json.loads(app)["id"]
call("POST", f"/api/v1/apps/{app}/subscriptions", {"plan_id": plan}, dev)
_, _, created = call("POST", f"/api/v1/apps/{app}/keys", {"name": "bench", "environment": "production"}, dev)
print(json.loads(created)["key"])
EOF
)
headers=(-H "X-API-Key: $key" -H "X-Forwarded-Host: api.example.com"
         -H "X-Forwarded-Uri: /v1/pets/7" -H "X-Forwarded-Method: GET")
curl -sf -o /dev/null "${headers[@]}" "$base/api/v1/keys/verify" || { echo "the key is refused" >&2; exit 1; }
echo "## one verification: $(curl -s "${headers[@]}" "$base/api/v1/keys/verify")"

for connections in 8 32; do
  for run in 1 2 3; do
    echo "## wrk -t2 -c$connections -d${seconds}s --latency (run $run)"
    wrk -t2 -c$connections -d${seconds}s --latency "${headers[@]}" "$base/api/v1/keys/verify" \
      | grep -E " 50%| 99%|Requests/sec|Non-2xx"
  done
done
echo "## load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## usage events recorded: $(sqlite3 "$data/portico.db" 'SELECT count(*) FROM usage_events' 2>/dev/null || echo '?')"
echo "## usage events dropped: $(curl -s "$base/metrics" | grep -E '^portico_usage_dropped_total' || echo 0)"
grep -E "VmRSS|VmHWM" /proc/$server/status
