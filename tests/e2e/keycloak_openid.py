"""Keycloak's Python client (KeycloakOpenID) signing a user in against the running platform:
token, decode with the JWKS, userinfo, refresh, introspect, logout; and KeycloakAdmin on users.
Usage: keycloak_openid.py BASE_URL (the bootstrap admin's credentials in the environment)."""

import os
import sys
import uuid

from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakError

BASE = sys.argv[1].rstrip("/")
ADMIN = os.environ["IDP_BOOTSTRAP_ADMIN_USERNAME"]
ADMIN_PASSWORD = os.environ["IDP_BOOTSTRAP_ADMIN_PASSWORD"]
results = []


def check(name, fn):
    try:
        fn()
        results.append((name, None))
    except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
        results.append((name, repr(e)))


admin_cli = KeycloakOpenID(server_url=f"{BASE}/", realm_name="master", client_id="admin-cli")
admin = KeycloakAdmin(server_url=f"{BASE}/", username=ADMIN, password=ADMIN_PASSWORD,
                      realm_name="master", user_realm_name="master")
state = {}


def password_grant_and_decode():
    tokens = admin_cli.token(ADMIN, ADMIN_PASSWORD, scope="openid")
    claims = admin_cli.decode_token(tokens["access_token"], validate=True)
    assert claims["preferred_username"] == ADMIN and claims["typ"] == "Bearer", claims
    assert claims["iss"] == f"{BASE}/realms/master"
    assert "admin" in claims["realm_access"]["roles"]
    id_claims = admin_cli.decode_token(tokens["id_token"], validate=True)
    assert id_claims["aud"] == "admin-cli" and id_claims["typ"] == "ID", id_claims
    state["tokens"] = tokens


def wrong_password():
    try:
        admin_cli.token(ADMIN, "not-the-password")
    except KeycloakError as e:
        assert "invalid_grant" in str(e) or e.response_code in (400, 401), str(e)
        return
    raise AssertionError("a wrong password got a token")


def userinfo():
    info = admin_cli.userinfo(state["tokens"]["access_token"])
    assert info["preferred_username"] == ADMIN, info


def refresh():
    old = state["tokens"]
    new = admin_cli.refresh_token(old["refresh_token"])
    assert new["access_token"] != old["access_token"]
    assert new["session_state"] == old["session_state"]
    try:
        admin_cli.refresh_token(old["refresh_token"])
    except KeycloakError:
        pass
    else:
        raise AssertionError("a spent refresh token was accepted")
    state["tokens"] = new


def introspect_and_logout():
    realm = f"e2e-oidc-{uuid.uuid4().hex[:8]}"
    admin.create_realm(payload={"realm": realm, "enabled": True})
    admin.change_current_realm(realm)
    admin.create_client({"clientId": "resource-server", "secret": "rs-secret-0123456789abcdef"})
    admin.create_user({"username": "dana", "enabled": True, "email": "dana@example.com",
                       "credentials": [{"type": "password", "value": "Dana-pass-1",
                                        "temporary": False}]})
    user_cli = KeycloakOpenID(server_url=f"{BASE}/", realm_name=realm, client_id="admin-cli")
    rs = KeycloakOpenID(server_url=f"{BASE}/", realm_name=realm, client_id="resource-server",
                        client_secret_key="rs-secret-0123456789abcdef")
    tokens = user_cli.token("dana", "Dana-pass-1")
    active = rs.introspect(tokens["access_token"])
    assert active["active"] is True and active["username"] == "dana", active
    user_cli.logout(tokens["refresh_token"])
    assert rs.introspect(tokens["access_token"])["active"] is False
    assert rs.introspect(tokens["refresh_token"])["active"] is False
    admin.change_current_realm("master")
    admin.delete_realm(realm)


def admin_users():
    realm = f"e2e-users-{uuid.uuid4().hex[:8]}"
    admin.create_realm(payload={"realm": realm, "enabled": True})
    admin.change_current_realm(realm)
    uid = admin.create_user({"username": "Erin", "email": "erin@example.com", "enabled": True,
                             "firstName": "Erin", "lastName": "Lee",
                             "attributes": {"dept": ["sales"]},
                             "credentials": [{"type": "password", "value": "Erin-pass-1",
                                              "temporary": False}]})
    admin.create_user({"username": "frank", "enabled": True})
    assert admin.users_count() == 2
    assert [u["username"] for u in admin.get_users({"search": "eri"})] == ["erin"]
    assert [u["username"] for u in admin.get_users({"username": "erin", "exact": True})] == ["erin"]
    assert admin.get_users({"username": "eri", "exact": True}) == []
    assert [u["id"] for u in admin.get_users({"q": "dept:sales"})] == [uid]
    assert admin.get_user_id("erin") == uid
    user = admin.get_user(uid)
    assert user["email"] == "erin@example.com" and user["attributes"]["dept"] == ["sales"]
    admin.update_user(uid, {"firstName": "Erina"})
    assert admin.get_user(uid)["firstName"] == "Erina"
    creds = admin.get_credentials(uid)
    assert [c["type"] for c in creds] == ["password"] and "secretData" not in creds[0], creds
    role = admin.create_realm_role({"name": "e2e-reader"})
    admin.assign_realm_roles(uid, [admin.get_realm_role("e2e-reader")])
    assert "e2e-reader" in [r["name"] for r in admin.get_realm_roles_of_user(uid)]
    assert role == "e2e-reader"
    # Groups: a tree, duplicates, memberships, group roles, rename, delete.
    gid = admin.create_group({"name": "e2e-staff", "attributes": {"floor": ["3"]}})
    sub = admin.create_group({"name": "devs"}, parent=gid)
    assert admin.create_group({"name": "e2e-staff"}, skip_exists=True) is None
    groups = admin.get_groups()
    assert [g["name"] for g in groups] == ["e2e-staff"], groups
    assert [g["path"] for g in groups[0]["subGroups"]] == ["/e2e-staff/devs"], groups
    group = admin.get_group(gid)
    assert group["subGroupCount"] == 1 and group["attributes"]["floor"] == ["3"], group
    admin.group_user_add(uid, sub)
    assert [g["path"] for g in admin.get_user_groups(uid)] == ["/e2e-staff/devs"]
    assert [u["username"] for u in admin.get_group_members(sub)] == ["erin"]
    admin.assign_group_realm_roles(gid, [admin.get_realm_role("e2e-reader")])
    assert [r["name"] for r in admin.get_group_realm_roles(gid)] == ["e2e-reader"]
    admin.update_group(sub, {"name": "engineers"})
    assert admin.get_group(sub)["path"] == "/e2e-staff/engineers"
    admin.group_user_remove(uid, sub)
    assert admin.get_group_members(sub) == []
    admin.delete_group(gid)
    assert admin.get_groups() == []
    admin.delete_user(uid)
    assert admin.users_count() == 1
    admin.change_current_realm("master")
    admin.delete_realm(realm)


for name, fn in [
    ("openid password grant + decode", password_grant_and_decode),
    ("openid wrong password", wrong_password),
    ("openid userinfo", userinfo),
    ("openid refresh", refresh),
    ("openid introspect + logout", introspect_and_logout),
    ("keycloak-admin users", admin_users),
]:
    check(name, fn)

for name, error in results:
    print(f"{'ok  ' if error is None else 'FAIL'} {name}{'' if error is None else ': ' + error}")
passed = sum(1 for _, e in results if e is None)
failed = len(results) - passed
print(f"python-keycloak (openid, users): {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
