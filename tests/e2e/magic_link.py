"""A magic link through a real SMTP server: aiosmtpd (started by run.sh) receives the mail
the platform sends, the link in it completes an authorization code flow with PKCE, and the
tokens it yields work; the link works once. Usage: magic_link.py BASE_URL MAILDIR"""

import base64
import hashlib
import mailbox
import os
import re
import secrets
import sys
import time
import uuid

import requests

BASE = sys.argv[1].rstrip("/")
MAILDIR = sys.argv[2]
SMTP_PORT = sys.argv[3]
ADMIN = os.environ["IDP_BOOTSTRAP_ADMIN_USERNAME"]
ADMIN_PASSWORD = os.environ["IDP_BOOTSTRAP_ADMIN_PASSWORD"]
REDIRECT = "https://app.example/callback"


def admin_token():
    reply = requests.post(f"{BASE}/realms/master/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "admin-cli",
        "username": ADMIN, "password": ADMIN_PASSWORD}, timeout=10)
    reply.raise_for_status()
    return reply.json()["access_token"]


def call(method, path, token, body):
    reply = requests.request(method, f"{BASE}{path}", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code in (200, 201, 204), f"{method} {path}: {reply.status_code} {reply.text}"
    return reply


def mailed_link(to, deadline):
    """The action link of the first mail to `to` the SMTP server received."""
    while time.time() < deadline:
        for message in mailbox.Maildir(MAILDIR, create=True):
            if to not in (message["To"] or ""):
                continue
            parts = message.walk() if message.is_multipart() else [message]
            for part in parts:
                if part.get_content_type() == "text/plain":
                    text = part.get_payload(decode=True).decode()
                    found = re.search(r"https?://\S+", text)
                    if found:
                        return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no mail to {to} arrived at the SMTP server")


def main():
    token = admin_token()
    realm = f"e2e-magic-{uuid.uuid4().hex[:8]}"
    call("POST", "/admin/realms", token, {"realm": realm, "enabled": True})
    call("POST", f"/admin/realms/{realm}/clients", token,
         {"clientId": "spa", "publicClient": True, "redirectUris": [REDIRECT]})
    call("POST", f"/realms/{realm}/mail/setup", token, {
        "host": "127.0.0.1", "port": SMTP_PORT, "from": "idp@e2e.example",
        "auth": "false", "ssl": "false", "starttls": "false"})

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    email = f"magic-{uuid.uuid4().hex[:6]}@e2e.example"
    call("POST", f"/realms/{realm}/kobil-magic-link/access-link", token, {
        "clientId": "spa", "email": email, "redirectUri": REDIRECT, "responseType": "code",
        "scope": "openid", "codeChallenge": challenge, "codeChallengeMethod": "S256",
        "forceCreate": True, "state": "from-the-mail"})

    link = mailed_link(email, time.time() + 30)
    followed = requests.get(link, allow_redirects=False, timeout=10)
    assert followed.status_code == 302, f"the link answered {followed.status_code}: {followed.text[:300]}"
    location = followed.headers["Location"]
    assert location.startswith(REDIRECT) and "state=from-the-mail" in location, location
    code = re.search(r"[?&]code=([^&]+)", location).group(1)
    assert "KEYCLOAK_IDENTITY" in followed.cookies, "the browser is signed in"

    tokens = requests.post(f"{BASE}/realms/{realm}/protocol/openid-connect/token", data={
        "grant_type": "authorization_code", "client_id": "spa", "code": code,
        "redirect_uri": REDIRECT, "code_verifier": verifier}, timeout=10)
    assert tokens.status_code == 200, tokens.text
    info = requests.get(f"{BASE}/realms/{realm}/protocol/openid-connect/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert info.status_code == 200 and info.json()["preferred_username"] == email, info.text

    again = requests.get(link, allow_redirects=False, timeout=10)
    assert again.status_code == 400, f"a spent link answered {again.status_code}"
    call("DELETE", f"/admin/realms/{realm}", token, None)
    print("ok   magic link: mailed through SMTP, followed, signed in, spent")


main()
