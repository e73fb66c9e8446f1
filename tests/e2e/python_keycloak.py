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



def keycloak_admin_checks():
    """Keycloak's admin client (KeycloakAdmin) on realms, clients and roles, unchanged. It logs
    in as the bootstrap admin, whose credentials run.sh exports; without them: no checks."""
    import os
    import uuid

    from keycloak import KeycloakAdmin

    user = os.environ.get("IDP_BOOTSTRAP_ADMIN_USERNAME")
    password = os.environ.get("IDP_BOOTSTRAP_ADMIN_PASSWORD")
    if not user or not password:
        print("note: KeycloakAdmin checks need IDP_BOOTSTRAP_ADMIN_USERNAME/PASSWORD")
        return []
    admin = KeycloakAdmin(server_url=f"{BASE}/", username=user, password=password,
                          realm_name="master", user_realm_name="master")
    realm = f"e2e-{uuid.uuid4().hex[:8]}"

    def realm_lifecycle():
        admin.create_realm(payload={"realm": realm, "enabled": True}, skip_exists=False)
        assert realm in [r["realm"] for r in admin.get_realms()]
        admin.update_realm(realm, {"accessTokenLifespan": 600})
        rep = admin.get_realm(realm)
        assert rep["accessTokenLifespan"] == 600 and rep["enabled"] is True, rep
        # A second create of the same realm is Keycloak's 409, which skip_exists swallows.
        admin.create_realm(payload={"realm": realm, "enabled": True}, skip_exists=True)

    def clients():
        admin.change_current_realm(realm)
        cid = admin.create_client({"clientId": "e2e-app", "serviceAccountsEnabled": True,
                                   "redirectUris": ["https://e2e.example/cb"]})
        assert admin.get_client_id("e2e-app") == cid
        assert admin.get_client(cid)["redirectUris"] == ["https://e2e.example/cb"]
        admin.update_client(cid, {"description": "checked"})
        assert admin.get_client(cid)["description"] == "checked"
        old = admin.get_client_secrets(cid)["value"]
        new = admin.generate_client_secrets(cid)["value"]
        assert new and new != old
        app = KeycloakOpenID(server_url=f"{BASE}/", realm_name=realm, client_id="e2e-app",
                             client_secret_key=new)
        assert app.token(grant_type="client_credentials")["access_token"]
        admin.create_client_role(cid, {"name": "reader"})
        assert "reader" in [r["name"] for r in admin.get_client_roles(cid)]
        assert admin.get_client_role(cid, "reader")["clientRole"] is True
        admin.delete_client_role(cid, "reader")
        admin.delete_client(cid)
        assert admin.get_client_id("e2e-app") is None

    def realm_roles():
        admin.change_current_realm(realm)
        assert f"default-roles-{realm}" in [r["name"] for r in admin.get_realm_roles()]
        assert admin.create_realm_role({"name": "e2e-role"}) == "e2e-role"
        admin.update_realm_role("e2e-role", {"name": "e2e-role", "description": "d"})
        assert admin.get_realm_role("e2e-role")["description"] == "d"
        admin.delete_realm_role("e2e-role")
        assert "e2e-role" not in [r["name"] for r in admin.get_realm_roles()]

    def realm_deletion():
        admin.change_current_realm("master")
        admin.delete_realm(realm)
        assert realm not in [r["realm"] for r in admin.get_realms()]

    return [
        ("keycloak-admin realm lifecycle", realm_lifecycle),
        ("keycloak-admin clients", clients),
        ("keycloak-admin realm roles", realm_roles),
        ("keycloak-admin realm deletion", realm_deletion),
    ]


for name, fn in [
    ("discovery", discovery),
    ("jwks", jwks),
    ("realm public key", realm_public_key),
    ("unknown realm", unknown_realm),
] + keycloak_admin_checks():
    check(name, fn)

for name, error in results:
    print(f"{'ok  ' if error is None else 'FAIL'} {name}{'' if error is None else ': ' + error}")
passed = sum(1 for _, e in results if e is None)
failed = len(results) - passed
print(f"python-keycloak: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
