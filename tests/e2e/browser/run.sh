#!/usr/bin/env bash
# End-to-end in a real browser: keycloak-js (npm) in Debian's headless Chromium, driven by
# playwright-core, against the all-in-one binary on a free port with fresh embedded storage.
# The app page is served from another localhost port. Installs Chromium (apt) and the npm
# packages itself; never downloads a browser.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
here=tests/e2e/browser
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/bin/chromium ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ -f "$here/package-lock.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
else
    (cd "$here" && npm install --no-audit --no-fund --loglevel=error)
fi
bin=target/debug/idp
[ -x "$bin" ] || cargo build --locked --bin idp

dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
idp_port=$(free_port)
page_port=$(free_port)
# The bootstrap administrator the seeding logs in as.
export IDP_BOOTSTRAP_ADMIN_USERNAME=e2e-admin
export IDP_BOOTSTRAP_ADMIN_PASSWORD="e2e-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
IDP_DATA_DIR="$dir/data" IDP_HTTP__BIND="127.0.0.1:$idp_port" "$bin" >"$dir/idp.log" 2>&1 &
idp_pid=$!

# The app: the page, keycloak-js as npm ships it, and where the platform is.
mkdir "$dir/site"
cp "$here/index.html" "$dir/site/"
cp "$here/node_modules/keycloak-js/lib/keycloak.js" "$dir/site/"
printf 'export default { url: "http://127.0.0.1:%s", realm: "e2e" };\n' "$idp_port" >"$dir/site/config.js"
python3 -m http.server "$page_port" --bind 127.0.0.1 --directory "$dir/site" >"$dir/site.log" 2>&1 &
site_pid=$!
cleanup() {
    kill "$idp_pid" "$site_pid" 2>/dev/null || true
    wait "$idp_pid" "$site_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$idp_port/health/ready" >/dev/null && break
    sleep 0.1
done
if ! curl -sf "http://127.0.0.1:$idp_port/health/ready" >/dev/null; then
    echo "the platform did not become ready; its log:" >&2
    cat "$dir/idp.log" >&2
    exit 1
fi
status=0
node "$here/e2e.mjs" "http://127.0.0.1:$idp_port" "http://127.0.0.1:$page_port" "$dir/profile" || status=1
if [ "$status" -ne 0 ]; then
    echo "the platform's log:" >&2
    tail -50 "$dir/idp.log" >&2
fi
exit "$status"
