//! The gateway's bearer phase on every backend: protected routes need a valid access token of
//! the path's tenant or of master; missing, malformed, `alg: none`, tampered, expired, ID and
//! foreign-tenant tokens are refused with 401 before any service sees them.

use crate::common::{add_service_client, client_credentials_token, ready_platform, service};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_shared::testkit::{TestEnv, backends, http};
use idp_shared::{IdpService, ServiceKind};
use serde_json::{Map, Value, json};

const SECRET: &str = "Zr8Kq3mW7xT1vB5nY9cD2fH6jL0pS4gA8eU3iO7uR1";

fn claims_of(jwt: &str) -> Map<String, Value> {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[actix_web::test]
async fn only_valid_access_tokens_pass_the_gateway() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();

        // A second tenant, with a client of its own.
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
        let master_token = client_credentials_token(&client, &gw, "master", "robot", SECRET).await;
        let acme_token = client_credentials_token(&client, &gw, "acme", "robot", SECRET).await;

        // Tokens signed with the tenant's real key but wrong in one way each.
        let auth = service(&platform, ServiceKind::Auth);
        let auth_state = svc_auth::State::build(auth.ctx.clone()).await.unwrap();
        let master = svc_auth::tenants::enabled_tenant(&auth_state, "master")
            .await
            .unwrap();
        let base = claims_of(&master_token);
        let signed = |change: Value| {
            let mut claims = base.clone();
            for (k, v) in change.as_object().unwrap() {
                claims.insert(k.clone(), v.clone());
            }
            let (state, tenant) = (auth_state.clone(), master.clone());
            async move {
                let now = idp_shared::names::now_millis();
                svc_auth::tokens::sign(&state, &tenant, Value::Object(claims), now)
                    .await
                    .unwrap()
            }
        };
        let now = idp_shared::names::now_millis() / 1000;
        let expired = signed(json!({"iat": now - 4000, "exp": now - 3600})).await;
        let id_token = signed(json!({"typ": "ID"})).await;
        let future = signed(json!({"nbf": now + 3600})).await;
        let header_none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = master_token.split('.').nth(1).unwrap();
        let alg_none = format!("{header_none}.{body}.");
        let mut tampered = master_token.clone();
        tampered.insert(
            tampered.len() - 5,
            if tampered.ends_with('A') { 'B' } else { 'A' },
        );
        tampered.pop();

        let users = |tenant: &str| format!("{gw}/admin/realms/{tenant}/users");
        let refused: Vec<(&str, String, Option<String>)> = vec![
            ("no token", users("master"), None),
            ("not a JWT", users("master"), Some("Bearer abc".into())),
            (
                "alg none",
                users("master"),
                Some(format!("Bearer {alg_none}")),
            ),
            (
                "tampered",
                users("master"),
                Some(format!("Bearer {tampered}")),
            ),
            (
                "expired",
                users("master"),
                Some(format!("Bearer {expired}")),
            ),
            (
                "not yet valid",
                users("master"),
                Some(format!("Bearer {future}")),
            ),
            (
                "ID token",
                users("master"),
                Some(format!("Bearer {id_token}")),
            ),
            (
                "foreign tenant",
                users("master"),
                Some(format!("Bearer {acme_token}")),
            ),
            (
                "Basic instead",
                users("master"),
                Some("Basic cm9ib3Q6eA==".into()),
            ),
        ];
        for (what, url, authorization) in refused {
            let mut request = client.get(&url);
            if let Some(a) = authorization {
                request = request.header("authorization", a);
            }
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), 401, "{name}: {what}");
            let challenge = resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.starts_with("Bearer"),
                "{name}: {what}: {challenge}"
            );
            let body: Value = resp.json().await.unwrap();
            assert!(body["message"].is_string(), "{name}: {what}");
        }

        // Valid tokens reach the service, which checks them again and finds no admin role in
        // a service account: its own 403, not the gateway's 401.
        for (what, url, token) in [
            ("own tenant", users("master"), &master_token),
            ("acme's own", users("acme"), &acme_token),
            ("master manages acme", users("acme"), &master_token),
        ] {
            let resp = client.get(&url).bearer_auth(token).send().await.unwrap();
            assert_eq!(resp.status(), 403, "{name}: {what} was not let through");
        }

        // Revoking the token id (what svc-auth's revocation writes) refuses it at once.
        let jti = base["jti"].as_str().unwrap().to_owned();
        auth.ctx
            .cache
            .set(
                &idp_shared::bearer::revoked_token_key(&jti),
                b"1",
                std::time::Duration::from_secs(600),
            )
            .await
            .unwrap();
        let resp = client
            .get(users("master"))
            .bearer_auth(&master_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{name}: revoked");

        // Public routes need no token.
        let resp = client
            .get(format!("{gw}/realms/acme/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name}");
        platform.stop().await;
    }
}
