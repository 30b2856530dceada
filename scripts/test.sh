#!/usr/bin/env bash
# Runs every test: unit and end-to-end tests (the real server, real plugins
# built for wasm32-wasip2 from Rust, JavaScript and Python), a schemathesis run
# against the API, then the browser tests in Debian's Chromium.
# Installs what it needs on a fresh Debian machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml asks rustup for the wasm32-wasip2 target; make sure it is there.
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true

# The gateway tests start a real Caddy (Debian's package); the package's
# systemd service is not needed: the tests run `caddy run` themselves.
if ! command -v caddy >/dev/null 2>&1; then
  apt-get update
  apt-get install -y caddy
fi

# One release build serves the tests, the browser tests and the binary; its
# time is printed because BENCHMARKS.md tracks the clean-build figure.
started=$SECONDS
cargo build --release --locked -p portico
echo "test.sh: release build of portico took $((SECONDS - started)) s"

# The JavaScript and Python example connectors (componentize-js, componentize-py),
# which tests/polyglot.rs loads; with PORTICO_POLYGLOT set, a missing one fails.
bash scripts/build-polyglot.sh
export PORTICO_POLYGLOT=1

# Express Gateway (npm, pinned in tests/express-gateway/), which
# tests/express_gateway.rs starts with node; with PORTICO_EXPRESS_GATEWAY set,
# a missing install fails rather than skips.
bash scripts/express-gateway.sh
export PORTICO_EXPRESS_GATEWAY=1

# The SCIM compliance check (PyPI scim2-cli's `scim2 test`, in a venv of its
# own), which tests/scim.rs runs against a live server.
scim_venv=target/scim-venv
if [[ ! -x $scim_venv/bin/scim2 ]]; then
  python3 -m venv "$scim_venv"
  "$scim_venv/bin/pip" install --quiet --disable-pip-version-check scim2-cli==0.6.0
fi
export PORTICO_SCIM_TESTER=$PWD/$scim_venv/bin/scim2

# moto's server mode (PyPI moto[server], which brings boto3), emulating AWS API
# Gateway for tests/aws_apigateway.rs; with PORTICO_MOTO set, a missing one fails.
moto_venv=target/moto-venv
if [[ ! -x $moto_venv/bin/moto_server ]]; then
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi
export PORTICO_MOTO=$PWD/$moto_venv/bin/moto_server

# The official MCP Python SDK (PyPI mcp, pinned, in a venv of its own), the
# real client tests/mcp.rs drives /mcp with; with PORTICO_MCP_PYTHON set, a
# missing one fails.
mcp_venv=target/mcp-venv
mcp_version=2.3.0
if ! "$mcp_venv/bin/python" -c "import importlib.metadata as m; assert m.version('mcp') == '$mcp_version'" 2>/dev/null; then
  python3 -m venv "$mcp_venv"
  "$mcp_venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$mcp_version"
fi
export PORTICO_MCP_PYTHON=$PWD/$mcp_venv/bin/python
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --locked --workspace --no-fail-fast
else
  cargo test --release --locked --workspace --no-fail-fast
fi

# Fuzz the portal's own API (/openapi.json) with schemathesis against the
# release binary: no server errors, and every answer as documented.
bash scripts/schemathesis.sh

bash scripts/browser-test.sh
