#!/usr/bin/env bash
# Builds the JavaScript and Python tutorial connectors (examples/hello-connector-js,
# examples/hello-connector-py) into plugin files in target/polyglot/, which the
# end-to-end tests load (tests/polyglot.rs). Installs node/npm and python3 (apt)
# when missing, componentize-js (npm) and componentize-py (pip, in a venv under
# target/) itself.
# Uses target/release/portico (built first by scripts/test.sh) to pack them.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/polyglot
mkdir -p "$out"
portico=${PORTICO_BIN:-target/release/portico}

# Installs Debian packages, as root or through sudo (once per run).
apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  if [[ -z ${apt_updated:-} ]]; then
    "${sudo[@]}" apt-get update -qq
    apt_updated=1
  fi
  "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}
command -v npm >/dev/null || apt_install nodejs npm
command -v python3 >/dev/null || apt_install python3

# JavaScript: componentize-js, pinned by the example's package-lock.json.
(cd examples/hello-connector-js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node examples/hello-connector-js/build.mjs "$PWD/$out/hello-connector-js.component.wasm"
"$portico" plugin pack "$out/hello-connector-js.component.wasm" \
  --manifest examples/hello-connector-js/plugin.toml -o "$out/hello-connector-js.wasm"

# Python: componentize-py in a virtual environment of its own.
venv=$out/venv
if [[ ! -x $venv/bin/componentize-py ]]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check componentize-py==0.25.1
fi
(cd examples/hello-connector-py &&
  "../../$venv/bin/componentize-py" -d ../../wit -w gateway-connector componentize app \
    -o "../../$out/hello-connector-py.component.wasm" >/dev/null)
"$portico" plugin pack "$out/hello-connector-py.component.wasm" \
  --manifest examples/hello-connector-py/plugin.toml -o "$out/hello-connector-py.wasm"
