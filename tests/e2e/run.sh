#!/usr/bin/env bash
# End-to-end: the all-in-one binary on a free port with fresh embedded storage, and real
# client libraries against it. Installs the Python client itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

python3 -m pip install --quiet --disable-pip-version-check "python-keycloak>=7,<8"
bin=target/debug/idp
[ -x "$bin" ] || cargo build --locked --bin idp

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
IDP_DATA_DIR="$dir" IDP_HTTP__BIND="127.0.0.1:$port" "$bin" >"$dir/idp.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
done
if ! curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; then
    echo "the platform did not become ready; its log:" >&2
    cat "$dir/idp.log" >&2
    exit 1
fi
python3 tests/e2e/python_keycloak.py "http://127.0.0.1:$port"
