//! A user's tokens after issue, through the gateway, on every backend: userinfo, introspection
//! (active only when valid here and now), revocation, logout by refresh token and by
//! id_token_hint, and sessions ending when an administrator disables the user or resets the
//! password.

use crate::common;

use crate::common::{add_service_client, master_admin_token, ready_platform, service};
use idp_shared::testkit::{TestEnv, backends, http};
use idp_shared::{IdpService, ServiceKind};
use serde_json::{Map, Value, json};

const RS_SECRET: &str = "Kq3mW7xT1vB5nY9cD2fH6jL0pS4gA8eU3iO7uR1Zr8";

async fn userinfo(client: &reqwest::Client, oidc: &str, access: &str) -> Value {
    let reply = client
        .get(format!("{oidc}/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    reply.json().await.unwrap()
}

fn payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn form_post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let reply = client.post(url).form(form).send().await.unwrap();
    let status = reply.status().as_u16();
    let text = reply.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[actix_web::test]
async fn tokens_are_inspected_revoked_and_ended() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let oidc = format!("{gw}/realms/acme/protocol/openid-connect");

        // A realm with a user and a confidential resource server, through the admin API.
        let created = client
            .post(format!("{gw}/admin/realms"))
            .bearer_auth(&admin)
            .json(&json!({"realm": "acme", "enabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{name}");
        add_service_client(&platform, "acme", "resource-server", RS_SECRET).await;
        let made = client
            .post(format!("{gw}/admin/realms/acme/users"))
            .bearer_auth(&admin)
            .json(&json!({"username": "dana", "enabled": true, "firstName": "Dana",
                          "credentials": [{"type": "password", "value": "Dana-pass-1", "temporary": false}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201, "{name}");
        let dana = made.headers()["location"]
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let token_url = format!("{oidc}/token");
        let sign_in = || {
            form_post(
                &client,
                &token_url,
                &[
                    ("grant_type", "password"),
                    ("client_id", "admin-cli"),
                    ("username", "dana"),
                    ("password", "Dana-pass-1"),
                    ("scope", "openid"),
                ],
            )
        };
        let introspect = |token: String| {
            let url = format!("{oidc}/token/introspect");
            let client = client.clone();
            async move {
                form_post(
                    &client,
                    &url,
                    &[
                        ("token", token.as_str()),
                        ("client_id", "resource-server"),
                        ("client_secret", RS_SECRET),
                    ],
                )
                .await
            }
        };

        // Userinfo: header or body, fresh from the user's record.
        let (_, tokens) = sign_in().await;
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let info = userinfo(&client, &oidc, &access).await;
        assert_eq!(info["sub"], dana.as_str(), "{name}: {info}");
        assert_eq!(info["preferred_username"], "dana");
        assert_eq!(info["given_name"], "Dana");
        let (status, _) = form_post(
            &client,
            &format!("{oidc}/userinfo"),
            &[("access_token", access.as_str())],
        )
        .await;
        assert_eq!(status, 200);
        let refused = client.get(format!("{oidc}/userinfo")).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        assert!(
            refused.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );

        // svc-auth keeps a copy of the user, yet a change through the admin API shows at once:
        // in userinfo, and in the roles of a refreshed token.
        let renamed = client
            .put(format!("{gw}/admin/realms/acme/users/{dana}"))
            .bearer_auth(&admin)
            .json(&json!({"firstName": "Daniela"}))
            .send()
            .await
            .unwrap();
        assert_eq!(renamed.status(), 204, "{name}");
        let info = userinfo(&client, &oidc, &access).await;
        assert_eq!(info["given_name"], "Daniela", "{name}: {info}");
        let role = client
            .post(format!("{gw}/admin/realms/acme/roles"))
            .bearer_auth(&admin)
            .json(&json!({"name": "auditor"}))
            .send()
            .await
            .unwrap();
        assert_eq!(role.status(), 201, "{name}");
        let granted = client
            .post(format!(
                "{gw}/admin/realms/acme/users/{dana}/role-mappings/realm"
            ))
            .bearer_auth(&admin)
            .json(&json!([{"name": "auditor"}]))
            .send()
            .await
            .unwrap();
        assert_eq!(granted.status(), 204, "{name}");
        let (status, refreshed) = form_post(
            &client,
            &token_url,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "admin-cli"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(status, 200, "{name}: {refreshed}");
        let claims = payload(refreshed["access_token"].as_str().unwrap());
        assert!(
            claims["realm_access"]["roles"]
                .as_array()
                .unwrap()
                .contains(&json!("auditor")),
            "{name}: {claims}"
        );
        let tokens = refreshed;

        // Introspection: only for authenticated confidential clients.
        let (status, active) = introspect(access.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(active["active"], true, "{name}: {active}");
        assert_eq!(active["username"], "dana");
        assert_eq!(active["client_id"], "admin-cli");
        let (_, refresh_active) =
            introspect(tokens["refresh_token"].as_str().unwrap().into()).await;
        assert_eq!(refresh_active["active"], true);
        assert_eq!(refresh_active["token_type"], "Refresh");
        let (status, _) = form_post(
            &client,
            &format!("{oidc}/token/introspect"),
            &[("token", access.as_str()), ("client_id", "admin-cli")],
        )
        .await;
        assert_eq!(status, 401, "{name}: a public client may not introspect");
        for junk in ["", "x.y.z", "not-a-token"] {
            let (status, body) = introspect(junk.into()).await;
            assert!(
                status == 200 && body == json!({"active": false}) || status == 400,
                "{name}: {junk:?} {body}"
            );
        }
        // A master token is foreign here; an expired token of acme is not active either.
        let (_, foreign) = introspect(admin.clone()).await;
        assert_eq!(foreign, json!({"active": false}), "{name}");
        let auth = service(&platform, ServiceKind::Auth);
        let auth_state = svc_auth::State::build(auth.ctx.clone()).await.unwrap();
        let acme = svc_auth::tenants::enabled_tenant(&auth_state, "acme")
            .await
            .unwrap();
        let mut claims: Map<String, Value> =
            svc_auth::routes::introspect::payload(&access).unwrap();
        claims.insert("exp".into(), json!(1_000));
        let now = idp_shared::names::now_millis();
        let expired = svc_auth::tokens::sign(&auth_state, &acme, Value::Object(claims), now)
            .await
            .unwrap();
        let (_, gone) = introspect(expired).await;
        assert_eq!(gone, json!({"active": false}), "{name}");

        // Revoking the access token: the gateway refuses it at once.
        let probe = |token: String| {
            let url = format!("{gw}/admin/realms/acme/users/{dana}");
            let client = client.clone();
            async move {
                client
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        let (_, admin_of_acme) = form_post(
            &client,
            &format!("{gw}/realms/master/protocol/openid-connect/token"),
            &[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", common::ADMIN_USERNAME),
                ("password", common::ADMIN_PASSWORD),
            ],
        )
        .await;
        let admin_access = admin_of_acme["access_token"].as_str().unwrap().to_owned();
        assert_eq!(probe(admin_access.clone()).await, 200, "{name}");
        let (status, _) = form_post(
            &client,
            &format!("{gw}/realms/master/protocol/openid-connect/revoke"),
            &[("token", admin_access.as_str()), ("client_id", "admin-cli")],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            probe(admin_access).await,
            401,
            "{name}: a revoked access token"
        );
        let (status, _) = form_post(
            &client,
            &format!("{oidc}/revoke"),
            &[("token", "unknown"), ("client_id", "admin-cli")],
        )
        .await;
        assert_eq!(status, 200, "unknown tokens are answered like known ones");
        let (status, _) = form_post(
            &client,
            &format!("{oidc}/revoke"),
            &[("client_id", "admin-cli")],
        )
        .await;
        assert_eq!(status, 400);

        // Revoking a refresh token ends its session: its access token dies too.
        let (_, tokens) = sign_in().await;
        let (status, _) = form_post(
            &client,
            &format!("{oidc}/revoke"),
            &[
                ("token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", "admin-cli"),
            ],
        )
        .await;
        assert_eq!(status, 200);
        let (_, after) = introspect(tokens["access_token"].as_str().unwrap().into()).await;
        assert_eq!(after["active"], false, "{name}");

        // Logout with the refresh token (what python-keycloak does): 204, then nothing works.
        let (_, tokens) = sign_in().await;
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, _) = form_post(
            &client,
            &format!("{oidc}/logout"),
            &[("client_id", "admin-cli"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (status, body) = form_post(
            &client,
            &format!("{oidc}/token"),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "admin-cli"),
                ("refresh_token", refresh),
            ],
        )
        .await;
        // This process issued that token, so the refresh goes straight to the rotation: the
        // ended session must be caught there.
        assert_eq!(
            (
                status,
                body["error"].as_str(),
                body["error_description"].as_str()
            ),
            (400, Some("invalid_grant"), Some("Session not active"))
        );
        let (status, _) = form_post(
            &client,
            &format!("{oidc}/logout"),
            &[
                ("client_id", "resource-server"),
                ("client_secret", RS_SECRET),
                ("refresh_token", refresh),
            ],
        )
        .await;
        assert_eq!(
            status, 400,
            "{name}: an ended session cannot be ended again"
        );

        // Logout by id_token_hint: the session ends; a redirect only to a registered URI.
        let (_, tokens) = sign_in().await;
        let hint = tokens["id_token"].as_str().unwrap();
        let no_redirect = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = no_redirect
            .get(format!(
                "{oidc}/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400, "{name}: unregistered redirect");
        let page = no_redirect
            .get(format!("{oidc}/logout?id_token_hint={hint}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let (_, after) = introspect(tokens["access_token"].as_str().unwrap().into()).await;
        assert_eq!(after["active"], false, "{name}");

        // Disabling the user ends its sessions; re-enabling does not bring them back.
        let (_, tokens) = sign_in().await;
        let user_url = format!("{gw}/admin/realms/acme/users/{dana}");
        let put = client
            .put(&user_url)
            .bearer_auth(&admin)
            .json(&json!({"enabled": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 204);
        let (_, after) = introspect(tokens["access_token"].as_str().unwrap().into()).await;
        assert_eq!(after["active"], false, "{name}: disabled user");
        let (status, body) = sign_in().await;
        assert_eq!(
            (status, body["error_description"].as_str()),
            (400, Some("Account disabled"))
        );
        client
            .put(&user_url)
            .bearer_auth(&admin)
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap();

        // A password reset by an administrator ends the sessions too.
        let (_, tokens) = sign_in().await;
        let reset = client
            .put(format!("{user_url}/reset-password"))
            .bearer_auth(&admin)
            .json(&json!({"type": "password", "value": "Dana-pass-2", "temporary": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(reset.status(), 204);
        let (_, after) = introspect(tokens["refresh_token"].as_str().unwrap().into()).await;
        assert_eq!(after["active"], false, "{name}: reset password");
        let (status, _) = sign_in().await;
        assert_eq!(status, 400, "the old password is gone");

        platform.stop().await;
    }
}
