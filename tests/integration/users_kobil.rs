//! KOBIL's user API (subSystem 5) through the gateway, on every backend: create with roles,
//! groups and a password, read, update, profile, enable, promote and revoke, tenant list,
//! required actions, roles, credentials, groups, the user lists with KOBIL's page numbers and
//! filters, addresses, the user security report, and who may call.

use crate::common::{master_admin_token, password_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "Passw0rd-for-tests";

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status();
    let bytes = reply.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// KOBIL's success envelope of subSystem 5.
fn ok(body: &Value) -> &Value {
    assert_eq!(body["status"], "OK", "{body}");
    assert_eq!(body["subSystem"], 5, "{body}");
    assert!(body["message"].is_string(), "{body}");
    &body["data"]
}

/// KOBIL's error envelope.
fn refused(body: &Value, code: &str) {
    assert_eq!(body["status"], code, "{body}");
    assert_eq!(body["subSystem"], 5, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn usernames(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn password_status(client: &reqwest::Client, gw: &str, username: &str) -> u16 {
    client
        .post(format!("{gw}/realms/acme/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn kobil_users_lists_addresses_and_report() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let kc = |path: &str| format!("{gw}/admin/realms/acme{path}");
        let url = |path: &str| format!("{gw}/realms/acme{path}");
        let user_url = |user: &str, rest: &str| url(&format!("/v3_user/{user}{rest}"));

        for realm in ["acme", "beta"] {
            let (status, _) = call(
                &client,
                Method::POST,
                &format!("{gw}/admin/realms"),
                &admin,
                Some(json!({"realm": realm, "enabled": true})),
            )
            .await;
            assert_eq!(status, 201, "{name}");
        }
        for role in ["reader", "admin", "realm-admin"] {
            let (status, _) = call(
                &client,
                Method::POST,
                &kc("/roles"),
                &admin,
                Some(json!({"name": role})),
            )
            .await;
            assert_eq!(status, 201, "{name}");
        }
        let (status, _) = call(
            &client,
            Method::POST,
            &kc("/groups"),
            &admin,
            Some(json!({"name": "staff"})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let (_, groups) = call(&client, Method::GET, &kc("/groups"), &admin, None).await;
        let staff = groups[0]["id"].as_str().unwrap().to_owned();

        // Create: the seed's body shape (realmRoles nested), everything checked first.
        let create = |username: &str, extra: Value| {
            let mut body = json!({
                "attributes": {"attribute1": "bob"},
                "clientRoles": {"realm-management": ["view-users"]},
                "credentials": [{"temporary": false, "type": "password", "value": PASSWORD}],
                "email": format!("{username}@example.com"),
                "emailVerified": true,
                "enabled": true,
                "firstName": username.to_uppercase(),
                "groups": ["staff"],
                "lastName": "s",
                "username": username,
                "realmRoles": [["reader"]],
                "requiredActions": ["VERIFY_EMAIL", "UPDATE_PASSWORD"]
            });
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        let (status, body) = call(
            &client,
            Method::POST,
            &url("/v3_user"),
            &admin,
            Some(create("bob", json!({}))),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let bob_id = ok(&body)["id"].as_str().unwrap().to_owned();
        let (status, body) = call(
            &client,
            Method::POST,
            &url("/v3_user"),
            &admin,
            Some(create("bob", json!({"email": "other@example.com"}))),
        )
        .await;
        assert_eq!(status, 409, "{name}: {body}");
        refused(&body, "CONFLICT");
        for (bad, why) in [
            (
                json!({"realmRoles": ["no-such-role"]}),
                "unknown realm role",
            ),
            (
                json!({"clientRoles": {"no-such-client": ["x"]}}),
                "unknown client",
            ),
            (
                json!({"clientRoles": {"realm-management": ["fly"]}}),
                "unknown client role",
            ),
            (json!({"groups": ["no-such-group"]}), "unknown group"),
            (json!({"email": "not-an-email"}), "bad email"),
            (json!({"requiredActions": ["FLY"]}), "bad action"),
            (
                json!({"credentials": [{"type": "password", "value": ""}]}),
                "empty password",
            ),
        ] {
            let (status, body) = call(
                &client,
                Method::POST,
                &url("/v3_user"),
                &admin,
                Some(create("ghost", bad)),
            )
            .await;
            assert_eq!(status, 400, "{name}: {why}: {body}");
            refused(&body, "BAD_REQUEST");
        }
        let (status, body) = call(&client, Method::GET, &user_url("ghost", ""), &admin, None).await;
        assert_eq!(status, 404, "{name}: nothing of a refused create is kept");
        refused(&body, "USER_NOT_FOUND");
        for user in ["carol", "dave"] {
            let (status, body) = call(&client, Method::POST, &url("/v3_user"), &admin,
                Some(json!({"username": user, "enabled": true, "firstName": user, "lastName": "z",
                            "email": format!("{user}@example.org"),
                            "credentials": [{"type": "password", "value": PASSWORD, "temporary": false}]}))).await;
            assert_eq!(status, 200, "{name}: {body}");
        }

        // Read: by username (KOBIL's representation) and by id (Keycloak's, bare).
        let (status, body) = call(&client, Method::GET, &user_url("BOB", ""), &admin, None).await;
        assert_eq!(status, 200, "{name}");
        let bob = ok(&body);
        assert_eq!(
            (bob["id"].as_str(), bob["admin"].as_bool()),
            (Some(bob_id.as_str()), Some(false)),
            "{name}"
        );
        assert_eq!(bob["attributes"]["firstName"], json!(["BOB"]), "{name}");
        assert_eq!(bob["attributes"]["attribute1"], json!(["bob"]), "{name}");
        assert_eq!(
            bob["requiredActions"],
            json!(["UPDATE_PASSWORD", "VERIFY_EMAIL"]),
            "{name}: {bob}"
        );
        let (status, by_id) = call(
            &client,
            Method::GET,
            &user_url("id", &format!("/{bob_id}")),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            (status, by_id["username"].as_str()),
            (StatusCode::OK, Some("bob")),
            "{name}"
        );
        assert_eq!(by_id["access"]["manage"], true, "{name}");
        let (status, body) = call(
            &client,
            Method::GET,
            &user_url("id", "/no-such-id"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        refused(&body, "USER_NOT_FOUND");
        let (_, roles) = call(
            &client,
            Method::GET,
            &kc(&format!("/users/{bob_id}/role-mappings")),
            &admin,
            None,
        )
        .await;
        assert!(
            roles["realmMappings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == "reader"),
            "{name}: {roles}"
        );
        assert_eq!(
            roles["clientMappings"]["realm-management"]["mappings"][0]["name"], "view-users",
            "{name}"
        );
        let (_, groups_of_bob) = call(
            &client,
            Method::GET,
            &kc(&format!("/users/{bob_id}/groups")),
            &admin,
            None,
        )
        .await;
        assert_eq!(groups_of_bob[0]["path"], "/staff", "{name}");
        // Required actions keep bob from signing in until they are revoked.
        assert_eq!(password_status(&client, &gw, "bob").await, 400, "{name}");
        let (status, _) = call(
            &client,
            Method::DELETE,
            &user_url("bob", "/requiredaction"),
            &admin,
            Some(json!({"requiredActions": ["fly"]})),
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (status, body) = call(
            &client,
            Method::DELETE,
            &user_url("bob", "/requiredaction"),
            &admin,
            Some(json!({"requiredActions": ["update-password"]})),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let (_, body) = call(&client, Method::GET, &user_url("bob", ""), &admin, None).await;
        assert_eq!(
            ok(&body)["requiredActions"],
            json!(["VERIFY_EMAIL"]),
            "{name}"
        );
        let (status, _) = call(
            &client,
            Method::DELETE,
            &user_url("bob", "/requiredaction"),
            &admin,
            Some(json!({"requiredActions": ["verify_email"]})),
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(password_status(&client, &gw, "bob").await, 200, "{name}");

        // Update: fields replace; a bad body changes nothing.
        let (status, body) = call(
            &client,
            Method::PUT,
            &user_url("bob", "/update"),
            &admin,
            Some(json!({"lastName": "Builder", "realmRoles": ["no-such-role"]})),
        )
        .await;
        assert_eq!(status, 400, "{name}: {body}");
        let (status, body) = call(
            &client,
            Method::PUT,
            &user_url("bob", "/update"),
            &admin,
            Some(json!({"lastName": "Builder", "email": "carol@example.org"})),
        )
        .await;
        assert_eq!(status, 409, "{name}: duplicate email: {body}");
        let (_, body) = call(&client, Method::GET, &user_url("bob", ""), &admin, None).await;
        assert_eq!(ok(&body)["lastName"], "s", "{name}");
        let (status, body) = call(&client, Method::PUT, &user_url("bob", "/update"), &admin,
            Some(json!({"username": "dave", "credentials": [{"type": "password", "value": "Another-passw0rd"}]}))).await;
        assert_eq!(status, 409, "{name}: taken username: {body}");
        assert_eq!(
            password_status(&client, &gw, "bob").await,
            200,
            "{name}: the password did not change"
        );
        let (status, body) = call(
            &client,
            Method::PUT,
            &user_url("bob", "/update"),
            &admin,
            Some(json!({"lastName": "Builder"})),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        ok(&body);
        let (status, _) = call(
            &client,
            Method::PUT,
            &user_url("nobody", "/update"),
            &admin,
            Some(json!({"lastName": "x"})),
        )
        .await;
        assert_eq!(status, 404, "{name}");
        // Profile: given attributes are merged into the stored ones.
        let (status, body) = call(&client, Method::PUT, &user_url("bob", "/profile"), &admin,
            Some(json!({"firstName": "Robert", "attributes": {"phone": "123"}, "username": "ignored"}))).await;
        assert_eq!(status, 200, "{name}: {body}");
        let (_, body) = call(&client, Method::GET, &user_url("bob", ""), &admin, None).await;
        let bob = ok(&body);
        assert_eq!(
            (bob["firstName"].as_str(), bob["lastName"].as_str()),
            (Some("Robert"), Some("Builder")),
            "{name}"
        );
        assert_eq!(bob["attributes"]["phone"], json!(["123"]), "{name}");
        assert_eq!(bob["attributes"]["attribute1"], json!(["bob"]), "{name}");
        // Enable / disable: a disabled user cannot sign in.
        let (status, body) = call(
            &client,
            Method::PUT,
            &user_url("bob", "/enable"),
            &admin,
            Some(json!({"enabled": false})),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::OK, Some("User disabled successfully")),
            "{name}"
        );
        assert_eq!(
            password_status(&client, &gw, "bob").await,
            400,
            "{name}: disabled"
        );
        let (status, _) = call(
            &client,
            Method::PUT,
            &user_url("bob", "/enable"),
            &admin,
            Some(json!({"enabled": "yes"})),
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (status, body) = call(
            &client,
            Method::PUT,
            &user_url("bob", "/enable"),
            &admin,
            Some(json!({"enabled": true})),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::OK, Some("User enabled successfully")),
            "{name}"
        );
        assert_eq!(password_status(&client, &gw, "bob").await, 200, "{name}");

        // Lists: page numbers from 1, KOBIL's filters and order.
        let (status, body) = call(
            &client,
            Method::GET,
            &url("/v3_user/getusers/?limit=1&pageNumber=2"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let data = ok(&body);
        assert_eq!(usernames(&data["userList"]), ["carol"], "{name}");
        assert_eq!(
            data["page"],
            json!({"currentPage": 2, "pageSize": 1, "totalPages": 3, "totalRecords": 3}),
            "{name}"
        );
        let (_, body) = call(
            &client,
            Method::GET,
            &url("/v3_user/getusers?lastName=z"),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            usernames(&ok(&body)["userList"]),
            ["carol", "dave"],
            "{name}"
        );
        let (_, body) = call(
            &client,
            Method::GET,
            &url("/v3_user/search?key=OBER"),
            &admin,
            None,
        )
        .await;
        assert_eq!(usernames(&ok(&body)["userList"]), ["bob"], "{name}");
        let (status, body) =
            call(&client, Method::GET, &url("/v3_user/search"), &admin, None).await;
        assert_eq!(status, 400, "{name}");
        refused(&body, "BAD_REQUEST");
        let (_, body) = call(
            &client,
            Method::GET,
            &url("/v3_user/search/attribute?key=phone&value=123"),
            &admin,
            None,
        )
        .await;
        assert_eq!(usernames(ok(&body)), ["bob"], "{name}");
        let (status, _) = call(
            &client,
            Method::GET,
            &url("/v3_user/search/attribute?key=phone"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (_, body) = call(&client, Method::GET, &url("/v3_user/count"), &admin, None).await;
        assert_eq!(ok(&body), &json!(3), "{name}");
        let (_, body) = call(
            &client,
            Method::GET,
            &url("/v3_user/count?search=dav"),
            &admin,
            None,
        )
        .await;
        assert_eq!(ok(&body), &json!(1), "{name}");
        for bad in [
            "limit=0",
            "offset=-1",
            "orderBy=up",
            "orderByKey=password",
            "isUserEnabled=maybe",
        ] {
            let (status, body) = call(
                &client,
                Method::GET,
                &url(&format!("/v3_user/getusers?{bad}")),
                &admin,
                None,
            )
            .await;
            assert_eq!(status, 400, "{name}: {bad}");
            refused(&body, "BAD_REQUEST");
        }
        // Holders of a client role, of a realm role, members of a group.
        let (status, body) = call(
            &client,
            Method::GET,
            &url("/v3_client/realm-management/view-users/users?orderBy=desc&orderByKey=firstName"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(usernames(&ok(&body)["userList"]), ["bob"], "{name}");
        for missing in [
            "/v3_client/no-such-app/view-users/users",
            "/v3_client/realm-management/fly/users",
            "/v3_role/no-such-role/users",
            "/v3_client/groups/no-such-group/users",
        ] {
            let (status, _) = call(&client, Method::GET, &url(missing), &admin, None).await;
            assert_eq!(status, 404, "{name}: {missing}");
        }
        let (_, body) = call(
            &client,
            Method::GET,
            &url("/v3_role/reader/users?genericSearchVal=ROB&firstName=nobody"),
            &admin,
            None,
        )
        .await;
        assert_eq!(usernames(&ok(&body)["userList"]), ["bob"], "{name}");
        for group in ["staff", staff.as_str(), "/staff"] {
            let (_, body) = call(
                &client,
                Method::GET,
                &url(&format!(
                    "/v3_client/groups/{}/users?isUserEnabled=true",
                    group.trim_start_matches('/')
                )),
                &admin,
                None,
            )
            .await;
            assert_eq!(
                usernames(&ok(&body)["userList"]),
                ["bob"],
                "{name}: {group}"
            );
        }
        let (_, body) = call(
            &client,
            Method::GET,
            &url("/v3_client/groups/staff/users?to=1"),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            ok(&body)["page"]["totalRecords"],
            0,
            "{name}: nobody was made before 1970"
        );

        // Groups by name: add and remove.
        let (status, body) = call(
            &client,
            Method::PUT,
            &user_url("carol", "/groups"),
            &admin,
            Some(json!({"groups": ["staff"]})),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let (_, members) = call(
            &client,
            Method::GET,
            &kc(&format!("/groups/{staff}/members")),
            &admin,
            None,
        )
        .await;
        assert_eq!(usernames(&members), ["bob", "carol"], "{name}");
        let (status, _) = call(
            &client,
            Method::PUT,
            &user_url("carol", "/groups"),
            &admin,
            Some(json!({"groups": ["staff", "nope"]})),
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (status, _) = call(
            &client,
            Method::PUT,
            &user_url("carol", "/groups"),
            &admin,
            Some(json!({"groups": []})),
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (status, _) = call(
            &client,
            Method::DELETE,
            &user_url("carol", "/groups"),
            &admin,
            Some(json!({"groups": ["staff"]})),
        )
        .await;
        assert_eq!(status, 200, "{name}");
        let (_, members) = call(
            &client,
            Method::GET,
            &kc(&format!("/groups/{staff}/members")),
            &admin,
            None,
        )
        .await;
        assert_eq!(usernames(&members), ["bob"], "{name}");

        // Promote and revoke: the administrator roles that exist, and the admin users list.
        let (status, body) = call(
            &client,
            Method::PUT,
            &user_url("dave", "/promote"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let (_, body) = call(
            &client,
            Method::GET,
            &url("/v3_user/adminusers"),
            &admin,
            None,
        )
        .await;
        let admins = ok(&body);
        assert_eq!(usernames(admins), ["dave"], "{name}");
        assert_eq!(admins[0]["admin"], true, "{name}");
        let dave = password_token(&client, &gw, "acme", "admin-cli", "dave", PASSWORD).await;
        let (status, _) = call(&client, Method::GET, &url("/v3_user/count"), &dave, None).await;
        assert_eq!(
            status, 200,
            "{name}: a promoted user administers the tenant"
        );
        let (status, body) = call(
            &client,
            Method::DELETE,
            &user_url("dave", "/promote"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let (_, body) = call(
            &client,
            Method::GET,
            &url("/v3_user/adminusers"),
            &admin,
            None,
        )
        .await;
        assert_eq!(ok(&body), &json!([]), "{name}");
        let dave = password_token(&client, &gw, "acme", "admin-cli", "dave", PASSWORD).await;
        let (status, body) = call(&client, Method::GET, &url("/v3_user/count"), &dave, None).await;
        assert_eq!(status, 403, "{name}: {body}");
        refused(&body, "FORBIDDEN");

        // Tenant list: the tenants where the username exists.
        let (status, _) = call(&client, Method::POST, &format!("{gw}/realms/beta/v3_user"), &admin, Some(json!({"username": "bob", "enabled": true,
                        "credentials": [{"type": "password", "value": PASSWORD, "temporary": false}]}))).await;
        assert_eq!(status, 200, "{name}");
        let (status, body) = call(
            &client,
            Method::GET,
            &user_url("bob", "/tenantlist"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(ok(&body), &json!("acme,beta"), "{name}");
        let bob_token = password_token(&client, &gw, "acme", "admin-cli", "bob", PASSWORD).await;
        let (status, body) = call(
            &client,
            Method::GET,
            &user_url("bob", "/tenantlist"),
            &bob_token,
            None,
        )
        .await;
        assert_eq!(
            (status, ok(&body)),
            (StatusCode::OK, &json!("acme,beta")),
            "{name}: the user itself"
        );
        let (status, _) = call(
            &client,
            Method::GET,
            &user_url("carol", "/tenantlist"),
            &dave,
            None,
        )
        .await;
        assert_eq!(status, 403, "{name}");
        let (status, _) = call(
            &client,
            Method::GET,
            &user_url("nobody", "/tenantlist"),
            &dave,
            None,
        )
        .await;
        assert_eq!(status, 403, "{name}: existence is not told");

        // Roles and credentials.
        let (status, _) = call(
            &client,
            Method::DELETE,
            &user_url("bob", "/role"),
            &admin,
            Some(json!({"clientRoles": {"no-such-client": ["x"]}})),
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (status, body) = call(&client, Method::DELETE, &user_url(&bob_id, "/role"), &admin,
            Some(json!({"realmRoles": ["reader"], "clientRoles": {"realm-management": ["view-users"]}}))).await;
        assert_eq!(status, 200, "{name}: by id too: {body}");
        let (_, roles) = call(
            &client,
            Method::GET,
            &kc(&format!("/users/{bob_id}/role-mappings")),
            &admin,
            None,
        )
        .await;
        assert_eq!(roles, json!({"realmMappings": []}), "{name}");
        let (status, creds) = call(
            &client,
            Method::GET,
            &user_url("bob", "/credentials"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(creds[0]["type"], "password", "{name}: {creds}");
        let text = creds.to_string();
        assert!(
            !text.contains("secretData") && !text.contains("$2"),
            "{name}: {text}"
        );

        // Addresses: one default per user, addressID in PUT and DELETE bodies.
        let address = |user: &str| url(&format!("/address/{user}"));
        let sample = json!({"postalCode": "654321", "addressDetails": "Main St 1", "addressTitle": "Home",
            "addressType": "Home", "city": "Worms", "cityCode": "6", "defaultAddress": true,
            "directions": "left", "district": "d", "districtCode": "1", "firstName": "Carol",
            "lastName": "Z", "town": "t", "townCode": "2"});
        let (status, body) = call(
            &client,
            Method::POST,
            &address("carol"),
            &admin,
            Some(sample.clone()),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let home = ok(&body)["addressID"].as_str().unwrap().to_owned();
        let (status, body) = call(
            &client,
            Method::POST,
            &address("carol"),
            &admin,
            Some(json!({"addressTitle": "Office", "city": "Mainz", "defaultAddress": true})),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let office = ok(&body)["addressID"].as_str().unwrap().to_owned();
        let (status, body) = call(&client, Method::GET, &address("carol"), &admin, None).await;
        assert_eq!(status, 200, "{name}");
        let list = ok(&body).as_array().unwrap().clone();
        assert_eq!(list.len(), 2, "{name}");
        assert_eq!(list[0]["addressID"], home.as_str(), "{name}");
        assert_eq!(
            (list[0]["city"].as_str(), list[0]["direction"].as_str()),
            (Some("Worms"), Some("left")),
            "{name}"
        );
        assert_eq!(
            (
                list[0]["defaultAddress"].as_str(),
                list[1]["defaultAddress"].as_str()
            ),
            (Some("false"), Some("true")),
            "{name}: one default"
        );
        assert_eq!(list[1]["town"], "", "{name}");
        let (status, body) = call(&client, Method::PUT, &address("carol"), &admin, Some(json!({"addressID": home, "lastName": "shaw", "addressType": "office", "defaultAddress": true}))).await;
        assert_eq!(status, 200, "{name}: {body}");
        let (_, body) = call(&client, Method::GET, &address("carol"), &admin, None).await;
        let list = ok(&body);
        assert_eq!(
            (list[0]["lastName"].as_str(), list[0]["city"].as_str()),
            (Some("shaw"), Some("Worms")),
            "{name}"
        );
        assert_eq!(
            (
                list[0]["defaultAddress"].as_str(),
                list[1]["defaultAddress"].as_str()
            ),
            (Some("true"), Some("false")),
            "{name}"
        );
        for (method, body, status) in [
            (Method::PUT, json!({"lastName": "x"}), 400),
            (
                Method::PUT,
                json!({"addressID": "00000000-0000-0000-0000-000000000000", "lastName": "x"}),
                404,
            ),
            (
                Method::PUT,
                json!({"addressID": office, "city": ["x"]}),
                400,
            ),
            (Method::POST, json!({}), 400),
            (Method::POST, json!({"defaultAddress": "maybe"}), 400),
            (Method::DELETE, json!({}), 400),
        ] {
            let (got, reply) = call(
                &client,
                method.clone(),
                &address("carol"),
                &admin,
                Some(body.clone()),
            )
            .await;
            assert_eq!(got.as_u16(), status, "{name}: {method} {body} -> {reply}");
        }
        let (status, _) = call(
            &client,
            Method::POST,
            &address("nobody"),
            &admin,
            Some(sample.clone()),
        )
        .await;
        assert_eq!(status, 404, "{name}");
        // Another user's token may not read them; the user's own may.
        let carol_token =
            password_token(&client, &gw, "acme", "admin-cli", "carol", PASSWORD).await;
        let (status, _) = call(&client, Method::GET, &address("carol"), &carol_token, None).await;
        assert_eq!(status, 200, "{name}");
        let (status, _) = call(&client, Method::GET, &address("carol"), &dave, None).await;
        assert_eq!(status, 403, "{name}");
        let (status, body) = call(
            &client,
            Method::DELETE,
            &address("carol"),
            &admin,
            Some(json!({"addressID": office})),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let (status, _) = call(
            &client,
            Method::DELETE,
            &address("carol"),
            &admin,
            Some(json!({"addressID": office})),
        )
        .await;
        assert_eq!(status, 404, "{name}");
        // At most 20 addresses per user.
        for _ in 0..19 {
            let (status, _) = call(
                &client,
                Method::POST,
                &address("dave"),
                &admin,
                Some(json!({"city": "x"})),
            )
            .await;
            assert_eq!(status, 200, "{name}");
        }
        let (status, _) = call(
            &client,
            Method::POST,
            &address("dave"),
            &admin,
            Some(json!({"city": "x"})),
        )
        .await;
        assert_eq!(status, 200, "{name}");
        let (status, body) = call(
            &client,
            Method::POST,
            &address("dave"),
            &admin,
            Some(json!({"city": "x"})),
        )
        .await;
        assert_eq!(status, 400, "{name}: {body}");

        // The security report: svc-login's facts, the policy's expiry, paging by offset.
        let (status, _) = call(
            &client,
            Method::PUT,
            &format!("{gw}/admin/realms/acme"),
            &admin,
            Some(json!({"passwordPolicy": "length(8) and forceExpiredPasswordChange(30)"})),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let report_url = url("/user-security-resources/users");
        let (status, report) = call(&client, Method::GET, &report_url, &admin, None).await;
        assert_eq!(status, 200, "{name}: {report}");
        let entries = report.as_array().unwrap();
        assert_eq!(
            entries
                .iter()
                .map(|e| e["username"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["bob", "carol", "dave"],
            "{name}"
        );
        let bob = &entries[0];
        assert_eq!(bob["userid"], bob_id.as_str(), "{name}");
        assert!(
            bob["lastLoginTimestamp"].as_i64().is_some(),
            "{name}: {bob}"
        );
        assert!(
            bob["lastPasswordChangeTimestamp"].as_i64().is_some(),
            "{name}: {bob}"
        );
        let days = bob["passwordExpiryRemainingDays"].as_i64().unwrap();
        assert!((29..=30).contains(&days), "{name}: {days}");
        assert_eq!(bob["requiredActions"], json!([]), "{name}");
        assert_eq!(bob["attributes"]["phone"], json!(["123"]), "{name}");
        for key in [
            "email",
            "enabled",
            "firstName",
            "lastName",
            "emailVerified",
            "createdTimestamp",
            "totp",
        ] {
            assert!(bob.get(key).is_some(), "{name}: {key} in {bob}");
        }
        let (_, page) = call(
            &client,
            Method::GET,
            &format!("{report_url}?page=1&size=1"),
            &admin,
            None,
        )
        .await;
        assert_eq!(usernames(&page), ["carol"], "{name}");
        let (_, page) = call(
            &client,
            Method::GET,
            &format!("{report_url}?page=-1&size=2"),
            &admin,
            None,
        )
        .await;
        assert_eq!(usernames(&page), ["bob", "carol"], "{name}");
        for bad in ["size=-1", "page=abc", "size=x"] {
            let (status, body) = call(
                &client,
                Method::GET,
                &format!("{report_url}?{bad}"),
                &admin,
                None,
            )
            .await;
            assert_eq!(status, 400, "{name}: {bad}");
            refused(&body, "BAD_REQUEST");
        }
        let (status, _) = call(&client, Method::GET, &report_url, &dave, None).await;
        assert_eq!(status, 403, "{name}");
        let users_url = &service(&platform, ServiceKind::Users).url;
        let beta_bob = password_token(&client, &gw, "beta", "admin-cli", "bob", PASSWORD).await;
        for path in [
            "/user-security-resources/users",
            "/v3_user/bob",
            "/v3_user/getusers",
            "/address/carol",
        ] {
            let (status, body) = call(
                &client,
                Method::GET,
                &format!("{users_url}/realms/acme{path}"),
                &beta_bob,
                None,
            )
            .await;
            assert!(
                status == 401 || status == 403,
                "{name}: another tenant's token at {path}: {status}"
            );
            assert_eq!(body["subSystem"], 5, "{name}: {body}");
        }

        // Delete: the user, its addresses and credentials go.
        let (status, body) = call(
            &client,
            Method::DELETE,
            &user_url("carol", ""),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let (status, _) = call(&client, Method::GET, &user_url("carol", ""), &admin, None).await;
        assert_eq!(status, 404, "{name}");
        let (status, _) = call(
            &client,
            Method::DELETE,
            &user_url("carol", ""),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        assert_eq!(
            password_status(&client, &gw, "carol").await,
            400,
            "{name}: deleted"
        );

        platform.stop().await;
    }
}
