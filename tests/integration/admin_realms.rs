//! Keycloak's realm and realm-role admin API through the gateway on every backend: who may
//! call it, the realm lifecycle (create with Keycloak's defaults, read, partial update that
//! tokens follow at once, delete everywhere), realm roles and their composites, and the
//! internal roles route svc-users reads.

use crate::common;

use crate::common::{add_service_client, client_credentials_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

const SECRET: &str = "Zr8Kq3mW7xT1vB5nY9cD2fH6jL0pS4gA8eU3iO7uR1";

/// One admin call: status, `Location` header and JSON body (null when there is none).
async fn call(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status();
    let location = reply
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = reply.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, location, body)
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| {
            r["name"]
                .as_str()
                .or(r["realm"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Without a token the gateway and the service itself refuse (401); a token without admin
/// roles (a service account) is refused by the service (403, Keycloak's error shape); a token
/// of another tenant does not pass the gateway.
#[actix_web::test]
async fn realm_admin_routes_need_admin_rights() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();

        let tenants = service(&platform, ServiceKind::Tenants);
        let acme = svc_tenants::new_tenant("acme", true, Map::new(), 1);
        tenants
            .ctx
            .db
            .run(move |conn| svc_tenants::store::insert(conn, &acme))
            .await
            .unwrap();
        add_service_client(&platform, "master", "robot", SECRET).await;
        add_service_client(&platform, "acme", "robot", SECRET).await;
        let robot = client_credentials_token(&client, &gw, "master", "robot", SECRET).await;
        let acme_robot = client_credentials_token(&client, &gw, "acme", "robot", SECRET).await;

        let routes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, "/admin/realms".into(), None),
            (
                Method::POST,
                "/admin/realms".into(),
                Some(json!({"realm": "x"})),
            ),
            (Method::GET, "/admin/realms/acme".into(), None),
            (Method::PUT, "/admin/realms/acme".into(), Some(json!({}))),
            (Method::DELETE, "/admin/realms/acme".into(), None),
            (Method::GET, "/admin/realms/acme/roles".into(), None),
            (
                Method::POST,
                "/admin/realms/acme/roles".into(),
                Some(json!({"name": "r"})),
            ),
            (
                Method::GET,
                "/admin/realms/acme/roles/offline_access".into(),
                None,
            ),
            (
                Method::PUT,
                "/admin/realms/acme/roles/offline_access".into(),
                Some(json!({})),
            ),
            (
                Method::DELETE,
                "/admin/realms/acme/roles/offline_access".into(),
                None,
            ),
            (Method::GET, "/admin/realms/acme/roles-by-id/x".into(), None),
        ];
        for (method, path, body) in &routes {
            let url = format!("{gw}{path}");
            let (status, _, _) = call(&client, method.clone(), &url, None, body.clone()).await;
            assert_eq!(status, 401, "{name}: {method} {path} without a token");
            // The service checks the token itself, whatever the gateway did.
            let direct = format!("{}{path}", tenants.url);
            let (status, _, body_direct) =
                call(&client, method.clone(), &direct, None, body.clone()).await;
            assert_eq!(
                status, 401,
                "{name}: {method} {path} straight to the service"
            );
            assert!(
                body_direct["errorMessage"].is_string(),
                "{name}: Keycloak's error shape: {body_direct}"
            );
            let (status, _, reply) =
                call(&client, method.clone(), &url, Some(&robot), body.clone()).await;
            assert_eq!(
                status, 403,
                "{name}: {method} {path} with a service account"
            );
            assert!(reply["errorMessage"].is_string(), "{name}: {reply}");
        }
        // A tenant's token is not accepted for another tenant's realm or for the realm list.
        let (status, _, _) = call(
            &client,
            Method::GET,
            &format!("{gw}/admin/realms/master"),
            Some(&acme_robot),
            None,
        )
        .await;
        assert_eq!(status, 401, "{name}: acme token on master");
        let (status, _, _) = call(
            &client,
            Method::GET,
            &format!("{gw}/admin/realms/acme"),
            Some(&acme_robot),
            None,
        )
        .await;
        assert_eq!(status, 403, "{name}: acme's service account is no admin");
        // Nothing was changed by any of the refused calls.
        let stored = tenants.ctx.db.run(svc_tenants::store::names).await.unwrap();
        assert_eq!(stored, ["acme", "master"], "{name}");
        platform.stop().await;
    }
}

/// The whole realm lifecycle with the bootstrap administrator's token.
#[actix_web::test]
async fn master_admin_manages_realms_and_roles() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = common::master_admin_token(&client, &gw).await;
        let token = Some(admin.as_str());
        let url = |path: &str| format!("{gw}{path}");

        // master is there with Keycloak's defaults and master's extra roles.
        let (status, _, list) =
            call(&client, Method::GET, &url("/admin/realms"), token, None).await;
        assert_eq!(status, 200, "{name}: {list}");
        assert_eq!(names(&list), ["master"], "{name}");
        assert_eq!(list[0]["accessTokenLifespan"], 300);
        let (_, _, roles) = call(
            &client,
            Method::GET,
            &url("/admin/realms/master/roles"),
            token,
            None,
        )
        .await;
        for role in [
            "admin",
            "create-realm",
            "realm-admin",
            "default-roles-master",
        ] {
            assert!(names(&roles).contains(&role.to_owned()), "{name}: {role}");
        }

        // A realm unknown a moment ago (svc-auth caches that) works as soon as it is created.
        let (status, _, _) = call(&client, Method::GET, &url("/realms/acme"), None, None).await;
        assert_eq!(status, 404, "{name}");
        let (status, location, body) = call(
            &client,
            Method::POST,
            &url("/admin/realms"),
            token,
            Some(json!({
                "realm": "acme",
                "enabled": true,
                "displayName": "Acme",
                "accessTokenLifespan": 600,
                "attributes": {"UserProperty": "id"},
            })),
        )
        .await;
        assert_eq!(status, 201, "{name}: {body}");
        assert!(
            location.as_deref().unwrap().ends_with("/admin/realms/acme"),
            "{name}: {location:?}"
        );
        let (status, _, _) = call(&client, Method::GET, &url("/realms/acme"), None, None).await;
        assert_eq!(status, 200, "{name}: the new realm is public at once");

        // Refused creations change nothing.
        for (body, expected) in [
            (json!({"realm": "acme", "enabled": true}), 409),
            (json!({"realm": "bad name"}), 400),
            (json!({"realm": ""}), 400),
            (json!({"enabled": true}), 400),
            (json!(["acme2"]), 400),
            (
                json!({"realm": "acme2", "accessTokenLifespan": "long"}),
                400,
            ),
            (json!({"realm": "acme2", "enabled": "yes"}), 400),
            (
                json!({"realm": "acme2", "attributes": {"a": {"b": 1}}}),
                400,
            ),
            (
                json!({"realm": "acme2", "defaultSignatureAlgorithm": "HS256"}),
                400,
            ),
        ] {
            let (status, _, reply) = call(
                &client,
                Method::POST,
                &url("/admin/realms"),
                token,
                Some(body.clone()),
            )
            .await;
            assert_eq!(status, expected, "{name}: {body} -> {reply}");
            assert!(reply["errorMessage"].is_string(), "{name}: {reply}");
        }
        let (_, _, list) = call(&client, Method::GET, &url("/admin/realms"), token, None).await;
        assert_eq!(names(&list), ["acme", "master"], "{name}");

        // The representation: what was sent, Keycloak's defaults, the default role.
        let (status, _, rep) = call(
            &client,
            Method::GET,
            &url("/admin/realms/acme"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(rep["realm"], "acme");
        assert_eq!(rep["enabled"], true);
        assert_eq!(rep["displayName"], "Acme");
        assert_eq!(rep["accessTokenLifespan"], 600);
        assert_eq!(rep["ssoSessionIdleTimeout"], 1800, "{name}: a default");
        assert_eq!(rep["attributes"]["UserProperty"], "id");
        assert_eq!(rep["defaultRole"]["name"], "default-roles-acme");
        assert_eq!(rep["defaultRole"]["composite"], true);
        let (status, _, _) = call(
            &client,
            Method::GET,
            &url("/admin/realms/nope"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");

        // Keycloak's default clients came with it.
        let (status, _, clients) = call(
            &client,
            Method::GET,
            &url("/admin/realms/acme/clients"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        let ids: Vec<&str> = clients
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["clientId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["admin-cli", "realm-management"], "{name}");

        // A partial update keeps the rest, and tokens follow it at once.
        let (status, _, body) = call(
            &client,
            Method::POST,
            &url("/admin/realms/acme/clients"),
            token,
            Some(json!({
                "clientId": "robot",
                "serviceAccountsEnabled": true,
                "secret": SECRET,
            })),
        )
        .await;
        assert_eq!(status, 201, "{name}: {body}");
        let reply: Value = client
            .post(url("/realms/acme/protocol/openid-connect/token"))
            .basic_auth("robot", Some(SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["expires_in"], 600, "{name}: {reply}");
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &url("/admin/realms/acme"),
            token,
            Some(json!({"accessTokenLifespan": 120, "displayName": null, "attributes": {"extra": "1"}})),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (_, _, rep) = call(
            &client,
            Method::GET,
            &url("/admin/realms/acme"),
            token,
            None,
        )
        .await;
        assert_eq!(rep["accessTokenLifespan"], 120);
        assert_eq!(
            rep["displayName"], "Acme",
            "{name}: null leaves a field as it is"
        );
        assert_eq!(
            rep["attributes"],
            json!({"UserProperty": "id", "extra": "1"})
        );
        let reply: Value = client
            .post(url("/realms/acme/protocol/openid-connect/token"))
            .basic_auth("robot", Some(SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            reply["expires_in"], 120,
            "{name}: the update counts at once"
        );

        // Refused updates change nothing.
        for (path, body) in [
            ("/admin/realms/acme", json!({"accessTokenLifespan": -1})),
            ("/admin/realms/acme", json!({"realm": "renamed"})),
            ("/admin/realms/acme", json!({"enabled": 1})),
            ("/admin/realms/acme", json!({"notBefore": "soon"})),
            ("/admin/realms/acme", json!("text")),
            ("/admin/realms/master", json!({"enabled": false})),
        ] {
            let (status, _, reply) =
                call(&client, Method::PUT, &url(path), token, Some(body.clone())).await;
            assert_eq!(status, 400, "{name}: {path} {body} -> {reply}");
        }
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &url("/admin/realms/nope"),
            token,
            Some(json!({"enabled": true})),
        )
        .await;
        assert_eq!(status, 404, "{name}");
        let (_, _, rep) = call(
            &client,
            Method::GET,
            &url("/admin/realms/acme"),
            token,
            None,
        )
        .await;
        assert_eq!(rep["accessTokenLifespan"], 120, "{name}");
        assert_eq!(rep["enabled"], true, "{name}");

        // Realm roles: Keycloak's defaults, create, read, rename, composites, delete.
        let roles_url = url("/admin/realms/acme/roles");
        let (_, _, roles) = call(&client, Method::GET, &roles_url, token, None).await;
        assert_eq!(
            names(&roles),
            ["default-roles-acme", "offline_access", "uma_authorization"],
            "{name}"
        );
        assert!(
            roles[0].get("attributes").is_none(),
            "{name}: brief by default"
        );
        let (status, location, _) = call(
            &client,
            Method::POST,
            &roles_url,
            token,
            Some(json!({"name": "editor", "description": "Edits", "attributes": {"team": ["a"]}})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        assert!(
            location
                .unwrap()
                .ends_with("/admin/realms/acme/roles/editor")
        );
        for (body, expected) in [
            (json!({"name": "editor"}), 409),
            (json!({"name": "a/b"}), 400),
            (json!({"description": "no name"}), 400),
            (json!({"name": "x", "attributes": {"a": 1}}), 400),
            (
                json!({"name": "x", "composites": {"realm": ["missing"]}}),
                400,
            ),
        ] {
            let (status, _, reply) =
                call(&client, Method::POST, &roles_url, token, Some(body.clone())).await;
            assert_eq!(status, expected, "{name}: {body} -> {reply}");
        }
        let (status, _, editor) = call(
            &client,
            Method::GET,
            &format!("{roles_url}/editor"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(editor["description"], "Edits");
        assert_eq!(editor["attributes"]["team"], json!(["a"]));
        assert_eq!(editor["clientRole"], false);
        assert_eq!(editor["composite"], false);
        assert_eq!(editor["containerId"], rep["id"]);
        let id = editor["id"].as_str().unwrap();
        let (status, _, by_id) = call(
            &client,
            Method::GET,
            &url(&format!("/admin/realms/acme/roles-by-id/{id}")),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(by_id["name"], "editor");

        let (status, _, _) = call(
            &client,
            Method::PUT,
            &format!("{roles_url}/editor"),
            token,
            Some(json!({"name": "writer", "description": "Writes"})),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (status, _, _) = call(
            &client,
            Method::GET,
            &format!("{roles_url}/editor"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}: renamed");
        let (_, _, writer) = call(
            &client,
            Method::GET,
            &format!("{roles_url}/writer"),
            token,
            None,
        )
        .await;
        assert_eq!(writer["description"], "Writes");
        assert_eq!(writer["id"], editor["id"]);
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &format!("{roles_url}/writer"),
            token,
            Some(json!({"name": "offline_access"})),
        )
        .await;
        assert_eq!(status, 409, "{name}: the name is taken");

        let composites = format!("{roles_url}/writer/composites");
        let (status, _, _) = call(
            &client,
            Method::POST,
            &composites,
            token,
            Some(json!([{"name": "offline_access"}])),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (_, _, held) = call(&client, Method::GET, &composites, token, None).await;
        assert_eq!(names(&held), ["offline_access"], "{name}");
        let (status, _, _) = call(
            &client,
            Method::POST,
            &format!("{roles_url}/offline_access/composites"),
            token,
            Some(json!([{"name": "writer"}])),
        )
        .await;
        assert_eq!(status, 400, "{name}: no cycles");

        // What svc-users reads: every role with its composites.
        let tenants = service(&platform, ServiceKind::Tenants);
        let service_token = tenants.ctx.settings.security.service_token.clone().unwrap();
        let internal: Value = client
            .get(format!("{}/internal/realms/acme/roles", tenants.url))
            .header(SERVICE_TOKEN_HEADER, service_token.expose())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let default_role = internal
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "default-roles-acme")
            .unwrap();
        assert_eq!(
            default_role["composites"]["realm"],
            json!(["offline_access", "uma_authorization"]),
            "{name}"
        );
        let writer = internal
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "writer")
            .unwrap();
        assert_eq!(writer["composites"]["realm"], json!(["offline_access"]));

        for (path, expected) in [
            ("/admin/realms/acme/roles/default-roles-acme", 400),
            ("/admin/realms/master/roles/admin", 400),
            ("/admin/realms/acme/roles/writer", 204),
            ("/admin/realms/acme/roles/writer", 404),
        ] {
            let (status, _, _) = call(&client, Method::DELETE, &url(path), token, None).await;
            assert_eq!(status, expected, "{name}: DELETE {path}");
        }

        // Deleting a realm removes it everywhere; master stays.
        for (path, expected) in [
            ("/admin/realms/master", 400),
            ("/admin/realms/nope", 404),
            ("/admin/realms/acme", 204),
            ("/admin/realms/acme", 404),
        ] {
            let (status, _, _) = call(&client, Method::DELETE, &url(path), token, None).await;
            assert_eq!(status, expected, "{name}: DELETE {path}");
        }
        let (status, _, _) = call(&client, Method::GET, &url("/realms/acme"), None, None).await;
        assert_eq!(status, 404, "{name}: svc-auth forgot the realm at once");
        let apps = service(&platform, ServiceKind::Apps);
        let gone = client
            .get(format!(
                "{}/internal/realms/acme/clients/admin-cli",
                apps.url
            ))
            .header(SERVICE_TOKEN_HEADER, service_token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 404, "{name}: the realm's clients are gone");
        let (_, _, list) = call(&client, Method::GET, &url("/admin/realms"), token, None).await;
        assert_eq!(names(&list), ["master"], "{name}");
        platform.stop().await;
    }
}
