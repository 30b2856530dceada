#!/usr/bin/env bash
# Runs every test: unit and end-to-end tests (the real server, real plugins
# built for wasm32-wasip2), then the browser tests in Debian's Chromium.
# Installs what it needs on a fresh Debian machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml asks rustup for the wasm32-wasip2 target; make sure it is there.
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true

# One release build serves the tests, the browser tests and the binary.
cargo build --release --locked -p portico
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --locked --workspace --no-fail-fast
else
  cargo test --release --locked --workspace --no-fail-fast
fi

bash scripts/browser-test.sh
