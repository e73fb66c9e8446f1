//! Keycloak's client admin API through the gateway on every backend: who may call it, create
//! with Keycloak's representation (generated or given secret, strict redirect URIs), list
//! filters, partial update, the secret (read, regenerate: the new one works at once and the
//! old one stops), client roles, delete, and the internal lookup by id.

use crate::common;

use crate::common::{add_service_client, client_credentials_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "Zr8Kq3mW7xT1vB5nY9cD2fH6jL0pS4gA8eU3iO7uR1";

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

/// The status of a client_credentials grant with this secret.
async fn grant_status(
    client: &reqwest::Client,
    gw: &str,
    tenant: &str,
    client_id: &str,
    secret: &str,
) -> StatusCode {
    client
        .post(format!(
            "{gw}/realms/{tenant}/protocol/openid-connect/token"
        ))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
}

fn client_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|c| c["clientId"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn client_admin_routes_need_admin_rights() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        add_service_client(&platform, "master", "robot", SECRET).await;
        let robot = client_credentials_token(&client, &gw, "master", "robot", SECRET).await;
        let apps = service(&platform, ServiceKind::Apps);
        let before = apps
            .ctx
            .db
            .run(|conn| svc_apps::store::client_ids(conn, "master"))
            .await
            .unwrap();

        let routes: Vec<(Method, &str, Option<Value>)> = vec![
            (Method::GET, "/admin/realms/master/clients", None),
            (
                Method::POST,
                "/admin/realms/master/clients",
                Some(json!({"clientId": "x"})),
            ),
            (Method::GET, "/admin/realms/master/clients/some-id", None),
            (
                Method::PUT,
                "/admin/realms/master/clients/some-id",
                Some(json!({})),
            ),
            (Method::DELETE, "/admin/realms/master/clients/some-id", None),
            (
                Method::GET,
                "/admin/realms/master/clients/some-id/client-secret",
                None,
            ),
            (
                Method::POST,
                "/admin/realms/master/clients/some-id/client-secret",
                None,
            ),
            (
                Method::GET,
                "/admin/realms/master/clients/some-id/roles",
                None,
            ),
            (
                Method::POST,
                "/admin/realms/master/clients/some-id/roles",
                Some(json!({"name": "r"})),
            ),
            (
                Method::DELETE,
                "/admin/realms/master/clients/some-id/roles/r",
                None,
            ),
        ];
        for (method, path, body) in &routes {
            let (status, _, _) = call(
                &client,
                method.clone(),
                &format!("{gw}{path}"),
                None,
                body.clone(),
            )
            .await;
            assert_eq!(status, 401, "{name}: {method} {path} without a token");
            let (status, _, reply) = call(
                &client,
                method.clone(),
                &format!("{}{path}", apps.url),
                None,
                body.clone(),
            )
            .await;
            assert_eq!(status, 401, "{name}: {method} {path} straight to svc-apps");
            assert!(reply["errorMessage"].is_string(), "{name}: {reply}");
            let (status, _, reply) = call(
                &client,
                method.clone(),
                &format!("{gw}{path}"),
                Some(&robot),
                body.clone(),
            )
            .await;
            assert_eq!(
                status, 403,
                "{name}: {method} {path} with a service account"
            );
            assert!(reply["errorMessage"].is_string(), "{name}: {reply}");
        }
        let after = apps
            .ctx
            .db
            .run(|conn| svc_apps::store::client_ids(conn, "master"))
            .await
            .unwrap();
        assert_eq!(before, after, "{name}: nothing changed");
        platform.stop().await;
    }
}

#[actix_web::test]
async fn master_admin_manages_clients() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = common::master_admin_token(&client, &gw).await;
        let token = Some(admin.as_str());
        let url = |path: &str| format!("{gw}{path}");
        let (status, _, _) = call(
            &client,
            Method::POST,
            &url("/admin/realms"),
            token,
            Some(json!({"realm": "acme", "enabled": true})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let clients_url = url("/admin/realms/acme/clients");

        // A confidential client with a generated secret.
        let (status, location, body) = call(
            &client,
            Method::POST,
            &clients_url,
            token,
            Some(json!({
                "clientId": "backend",
                "name": "Backend",
                "description": "the backend",
                "serviceAccountsEnabled": true,
                "redirectUris": ["https://app.example.com/cb", "https://app.example.com/more/*"],
                "webOrigins": ["https://app.example.com"],
                "rootUrl": "https://app.example.com",
                "attributes": {"pkce.code.challenge.method": "S256"},
                "protocolMappers": [{
                    "name": "audience",
                    "protocol": "openid-connect",
                    "protocolMapper": "oidc-audience-mapper",
                    "config": {"included.client.audience": "backend"}
                }],
                "defaultClientScopes": ["profile", "email"],
            })),
        )
        .await;
        assert_eq!(status, 201, "{name}: {body}");
        let location = location.unwrap();
        let id = location.rsplit('/').next().unwrap().to_owned();
        assert!(
            location.ends_with(&format!("/admin/realms/acme/clients/{id}")),
            "{name}: {location}"
        );
        let (status, _, rep) = call(
            &client,
            Method::GET,
            &format!("{clients_url}/{id}"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(rep["id"], id);
        assert_eq!(rep["clientId"], "backend");
        assert_eq!(rep["name"], "Backend");
        assert_eq!(rep["publicClient"], false);
        assert_eq!(rep["serviceAccountsEnabled"], true);
        assert_eq!(
            rep["standardFlowEnabled"], true,
            "{name}: Keycloak's default"
        );
        assert_eq!(rep["protocol"], "openid-connect");
        assert_eq!(rep["attributes"]["pkce.code.challenge.method"], "S256");
        assert_eq!(rep["protocolMappers"][0]["name"], "audience");
        assert!(rep["protocolMappers"][0]["id"].is_string());
        assert_eq!(rep["defaultClientScopes"], json!(["profile", "email"]));
        assert_eq!(
            rep["redirectUris"],
            json!([
                "https://app.example.com/cb",
                "https://app.example.com/more/*"
            ])
        );
        assert!(
            rep.get("secret").is_none(),
            "{name}: the secret has its own route"
        );

        let secret_url = format!("{clients_url}/{id}/client-secret");
        let (status, _, secret) = call(&client, Method::GET, &secret_url, token, None).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(secret["type"], "secret");
        let first = secret["value"].as_str().unwrap().to_owned();
        assert!(first.len() >= 32, "{name}: a high-entropy secret");
        assert_eq!(
            grant_status(&client, &gw, "acme", "backend", &first).await,
            200
        );

        // Duplicates and bad representations are refused and change nothing.
        for (body, expected) in [
            (json!({"clientId": "backend"}), 409),
            (json!({"name": "no client id"}), 400),
            (json!({"clientId": ""}), 400),
            (json!({"clientId": "x", "redirectUris": ["/relative"]}), 400),
            (json!({"clientId": "x", "redirectUris": ["*"]}), 400),
            (
                json!({"clientId": "x", "redirectUris": ["javascript:alert(1)"]}),
                400,
            ),
            (
                json!({"clientId": "x", "redirectUris": ["https://a.example/cb#f"]}),
                400,
            ),
            (
                json!({"clientId": "x", "redirectUris": "https://a.example/cb"}),
                400,
            ),
            (
                json!({"clientId": "x", "webOrigins": ["https://a.example/path"]}),
                400,
            ),
            (json!({"clientId": "x", "enabled": "yes"}), 400),
            (json!({"clientId": "x", "attributes": {"a": {"b": 1}}}), 400),
            (json!({"clientId": "x", "id": "not/valid"}), 400),
            (json!(["x"]), 400),
        ] {
            let (status, _, reply) = call(
                &client,
                Method::POST,
                &clients_url,
                token,
                Some(body.clone()),
            )
            .await;
            assert_eq!(status, expected, "{name}: {body} -> {reply}");
            assert!(reply["errorMessage"].is_string(), "{name}: {reply}");
        }
        let (status, _, _) = call(
            &client,
            Method::POST,
            &url("/admin/realms/nope/clients"),
            token,
            Some(json!({"clientId": "x"})),
        )
        .await;
        assert_eq!(status, 404, "{name}: no such realm");
        let (_, _, list) = call(&client, Method::GET, &clients_url, token, None).await;
        assert_eq!(
            client_ids(&list),
            ["admin-cli", "backend", "realm-management"],
            "{name}"
        );

        // Filters.
        for (query, expected) in [
            ("?clientId=backend", vec!["backend"]),
            ("?clientId=BACK&search=true", vec!["backend"]),
            ("?clientId=back", vec![]),
            ("?first=1&max=1", vec!["backend"]),
        ] {
            let (_, _, list) = call(
                &client,
                Method::GET,
                &format!("{clients_url}{query}"),
                token,
                None,
            )
            .await;
            assert_eq!(client_ids(&list), expected, "{name}: {query}");
        }

        // A given secret, then a partial update.
        let (status, location, _) = call(
            &client,
            Method::POST,
            &clients_url,
            token,
            Some(json!({"clientId": "robot", "serviceAccountsEnabled": true, "secret": SECRET})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let robot_id = location.unwrap().rsplit('/').next().unwrap().to_owned();
        assert_eq!(
            grant_status(&client, &gw, "acme", "robot", SECRET).await,
            200
        );
        let robot_url = format!("{clients_url}/{robot_id}");
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &robot_url,
            token,
            Some(json!({"clientId": "robot2", "description": "renamed", "name": null})),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (_, _, rep) = call(&client, Method::GET, &robot_url, token, None).await;
        assert_eq!(rep["clientId"], "robot2");
        assert_eq!(rep["description"], "renamed");
        assert_eq!(rep["serviceAccountsEnabled"], true, "{name}: kept");
        assert_eq!(
            grant_status(&client, &gw, "acme", "robot", SECRET).await,
            401,
            "{name}: the old client id is gone at once"
        );
        assert_eq!(
            grant_status(&client, &gw, "acme", "robot2", SECRET).await,
            200
        );
        for (body, expected) in [
            (json!({"clientId": "admin-cli"}), 409),
            (json!({"redirectUris": ["relative"]}), 400),
            (json!({"bearerOnly": "no"}), 400),
        ] {
            let (status, _, reply) =
                call(&client, Method::PUT, &robot_url, token, Some(body.clone())).await;
            assert_eq!(status, expected, "{name}: {body} -> {reply}");
        }
        let (_, _, rep) = call(&client, Method::GET, &robot_url, token, None).await;
        assert_eq!(rep["clientId"], "robot2", "{name}: unchanged");
        assert_eq!(rep["redirectUris"], json!([]), "{name}: unchanged");

        // Regenerating the secret: the new one works at once, the old one no more.
        let (status, _, fresh) = call(&client, Method::POST, &secret_url, token, None).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(fresh["type"], "secret");
        let second = fresh["value"].as_str().unwrap().to_owned();
        assert_ne!(second, first);
        assert_eq!(
            grant_status(&client, &gw, "acme", "backend", &second).await,
            200
        );
        assert_eq!(
            grant_status(&client, &gw, "acme", "backend", &first).await,
            401
        );
        let (_, _, read) = call(&client, Method::GET, &secret_url, token, None).await;
        assert_eq!(read["value"], second.as_str());

        // A public client has no secret.
        let (status, location, _) = call(
            &client,
            Method::POST,
            &clients_url,
            token,
            Some(json!({"clientId": "spa", "publicClient": true, "redirectUris": ["https://spa.example/*"]})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let spa_url = location.unwrap();
        let spa_id = spa_url.rsplit('/').next().unwrap();
        let spa_secret = format!("{clients_url}/{spa_id}/client-secret");
        let (_, _, none) = call(&client, Method::GET, &spa_secret, token, None).await;
        assert_eq!(none, json!({"type": "secret"}), "{name}");
        let (status, _, _) = call(&client, Method::POST, &spa_secret, token, None).await;
        assert_eq!(status, 400, "{name}");

        // Client roles.
        let roles_url = format!("{clients_url}/{id}/roles");
        let (status, location, _) = call(
            &client,
            Method::POST,
            &roles_url,
            token,
            Some(json!({"name": "reader", "description": "Reads", "attributes": {"k": ["v"]}})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        assert!(
            location
                .unwrap()
                .ends_with(&format!("/clients/{id}/roles/reader"))
        );
        for (body, expected) in [
            (json!({"name": "reader"}), 409),
            (json!({"name": ""}), 400),
            (json!({"description": "no name"}), 400),
        ] {
            let (status, _, _) =
                call(&client, Method::POST, &roles_url, token, Some(body.clone())).await;
            assert_eq!(status, expected, "{name}: {body}");
        }
        let (_, _, list) = call(&client, Method::GET, &roles_url, token, None).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{name}");
        let (status, _, reader) = call(
            &client,
            Method::GET,
            &format!("{roles_url}/reader"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(reader["clientRole"], true);
        assert_eq!(reader["containerId"], id);
        assert_eq!(reader["attributes"]["k"], json!(["v"]));
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &format!("{roles_url}/reader"),
            token,
            Some(json!({"name": "viewer"})),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (status, _, _) = call(
            &client,
            Method::GET,
            &format!("{roles_url}/reader"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &format!("{roles_url}/viewer"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &format!("{roles_url}/viewer"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        let (_, _, list) = call(
            &client,
            Method::GET,
            &format!("{clients_url}?clientId=realm-management"),
            token,
            None,
        )
        .await;
        let rm = list[0]["id"].as_str().unwrap().to_owned();
        let (_, _, rm_roles) = call(
            &client,
            Method::GET,
            &format!("{clients_url}/{rm}/roles"),
            token,
            None,
        )
        .await;
        assert_eq!(rm_roles.as_array().unwrap().len(), 19, "{name}");
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &format!("{clients_url}/{rm}/roles/realm-admin"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 400, "{name}: the admin roles stay");
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &format!("{clients_url}/{rm}"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 400, "{name}: realm-management stays");

        // The internal lookup by id answers like the one by client id.
        let apps = service(&platform, ServiceKind::Apps);
        let service_token = apps.ctx.settings.security.service_token.clone().unwrap();
        let internal = |path: String| {
            client
                .get(format!("{}{path}", apps.url))
                .header(SERVICE_TOKEN_HEADER, service_token.expose())
                .send()
        };
        let by_id: Value = internal(format!("/internal/realms/acme/apps/{id}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let by_client_id: Value = internal("/internal/realms/acme/clients/backend".into())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(by_id, by_client_id, "{name}");
        assert!(!by_id.to_string().contains(&second), "{name}: no secret");
        let missing = internal(format!("/internal/realms/master/apps/{id}"))
            .await
            .unwrap();
        assert_eq!(missing.status(), 404, "{name}: apps are per tenant");

        // Another realm's path does not reach acme's client.
        let (status, _, _) = call(
            &client,
            Method::GET,
            &url(&format!("/admin/realms/master/clients/{id}")),
            token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");

        // Delete: the client and its secret stop at once.
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &format!("{clients_url}/{id}"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (status, _, _) = call(
            &client,
            Method::GET,
            &format!("{clients_url}/{id}"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        assert_eq!(
            grant_status(&client, &gw, "acme", "backend", &second).await,
            401
        );
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &format!("{clients_url}/{id}"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        platform.stop().await;
    }
}
