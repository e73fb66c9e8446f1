#!/usr/bin/env bash
# End-to-end: the all-in-one binary on a free port with fresh embedded storage, and real
# client libraries against it. Installs the Python client itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

python3 -m pip install --quiet --disable-pip-version-check "python-keycloak>=7,<8" "aiosmtpd>=1.4,<2"
bin=target/debug/idp
[ -x "$bin" ] || cargo build --locked --bin idp

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The bootstrap administrator Keycloak's admin client logs in as.
export IDP_BOOTSTRAP_ADMIN_USERNAME=e2e-admin
export IDP_BOOTSTRAP_ADMIN_PASSWORD="e2e-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
IDP_DATA_DIR="$dir" IDP_HTTP__BIND="127.0.0.1:$port" "$bin" >"$dir/idp.log" 2>&1 &
pid=$!
# A real SMTP server for the magic-link mail, keeping what it receives in a Maildir.
smtp_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -c 'import mailbox, sys; mailbox.Maildir(sys.argv[1], create=True)' "$dir/maildir"
python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$dir/maildir" \
    >"$dir/smtp.log" 2>&1 &
smtp_pid=$!
cleanup() {
    kill "$pid" "$smtp_pid" 2>/dev/null || true
    wait "$pid" "$smtp_pid" 2>/dev/null || true
    rm -rf "$dir"
}
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
status=0
python3 tests/e2e/python_keycloak.py "http://127.0.0.1:$port" || status=1
python3 tests/e2e/keycloak_openid.py "http://127.0.0.1:$port" || status=1
python3 tests/e2e/magic_link.py "http://127.0.0.1:$port" "$dir/maildir" "$smtp_port" || status=1
if [ "$status" -ne 0 ]; then
    echo "the platform's log:" >&2
    tail -50 "$dir/idp.log" >&2
fi
exit "$status"
