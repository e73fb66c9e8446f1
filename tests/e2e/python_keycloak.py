"""Keycloak's own Python client library against the running platform: it must read our
discovery document, JWKS and realm info unchanged. Usage: python_keycloak.py BASE_URL"""

import json
import sys

from jwcrypto import jwk
from keycloak import KeycloakOpenID

BASE = sys.argv[1].rstrip("/")
results = []


def check(name, fn):
    try:
        fn()
        results.append((name, None))
    except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
        results.append((name, repr(e)))


oidc = KeycloakOpenID(server_url=f"{BASE}/", realm_name="master", client_id="admin-cli")


def discovery():
    doc = oidc.well_known()
    assert doc["issuer"] == f"{BASE}/realms/master", doc["issuer"]
    assert doc["token_endpoint"] == f"{BASE}/realms/master/protocol/openid-connect/token"
    assert "S256" in doc["code_challenge_methods_supported"]


def jwks():
    certs = oidc.certs()
    keys = jwk.JWKSet.from_json(json.dumps(certs))
    assert len(certs["keys"]) >= 1
    for key in certs["keys"]:
        assert key["use"] == "sig" and key["kid"]
        assert not jwk.JWK(**key).has_private
    assert keys.get_key(certs["keys"][0]["kid"]) is not None


def realm_public_key():
    pem_body = oidc.public_key()
    assert pem_body.startswith("MII"), pem_body[:20]
    key = jwk.JWK.from_pem(
        f"-----BEGIN PUBLIC KEY-----\n{pem_body}\n-----END PUBLIC KEY-----".encode()
    )
    certs = oidc.certs()
    assert any(k["n"] == key.export_public(as_dict=True).get("n") for k in certs["keys"])


def unknown_realm():
    other = KeycloakOpenID(server_url=f"{BASE}/", realm_name="no-such-realm", client_id="x")
    try:
        other.well_known()
    except Exception as e:  # python-keycloak raises its own error type for a 404
        assert "404" in str(e) or "does not exist" in str(e), str(e)
        return
    raise AssertionError("an unknown realm answered")


for name, fn in [
    ("discovery", discovery),
    ("jwks", jwks),
    ("realm public key", realm_public_key),
    ("unknown realm", unknown_realm),
]:
    check(name, fn)

for name, error in results:
    print(f"{'ok  ' if error is None else 'FAIL'} {name}{'' if error is None else ': ' + error}")
passed = sum(1 for _, e in results if e is None)
failed = len(results) - passed
print(f"python-keycloak: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
