//! The authorization_code grant with PKCE, through the gateway, on every backend. Codes are
//! issued here through svc-auth's code store (the hosted login page that issues them in
//! production is tested with a browser in its own suite): exchange, wrong verifier, wrong
//! redirect URI, another client, and a replay that ends the first exchange's session.

use crate::common::{master_admin_token, ready_platform, service};
use idp_shared::testkit::{TestEnv, backends, http};
use idp_shared::{IdpService, ServiceKind};
use serde_json::{Value, json};
use svc_auth::codes::{AuthorizationCode, issue};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "https://app.example/callback";

#[actix_web::test]
async fn codes_are_exchanged_once_with_pkce() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let token_url = format!("{gw}/realms/acme/protocol/openid-connect/token");

        // A realm with a public SPA client and a user.
        for (url, body) in [
            (
                format!("{gw}/admin/realms"),
                json!({"realm": "acme", "enabled": true}),
            ),
            (
                format!("{gw}/admin/realms/acme/clients"),
                json!({"clientId": "spa", "publicClient": true, "redirectUris": [REDIRECT]}),
            ),
            (
                format!("{gw}/admin/realms/acme/users"),
                json!({"username": "erin", "enabled": true}),
            ),
        ] {
            let reply = client
                .post(url)
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                reply.status(),
                201,
                "{name}: {}",
                reply.text().await.unwrap()
            );
        }
        let users: Value = client
            .get(format!(
                "{gw}/admin/realms/acme/users?username=erin&exact=true"
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let erin = users[0]["id"].as_str().unwrap().to_owned();

        let auth = service(&platform, ServiceKind::Auth);
        let auth_state = svc_auth::State::build(auth.ctx.clone()).await.unwrap();
        let new_code = |client_id: &str, challenge: Option<&str>| {
            let code = AuthorizationCode {
                tenant: "acme".into(),
                client_id: client_id.into(),
                redirect_uri: REDIRECT.into(),
                user_id: erin.clone(),
                scope: "openid profile email".into(),
                nonce: Some("n-0S6_WzA2Mj".into()),
                code_challenge: challenge.map(str::to_owned),
                expires_at: idp_shared::names::now_millis() + 60_000,
                sso: None,
            };
            let state = auth_state.clone();
            async move { issue(&state, &code, 60).await.unwrap() }
        };
        let exchange = |code: String, verifier: &'static str, redirect: &'static str| {
            let (client, url) = (client.clone(), token_url.clone());
            async move {
                let reply = client
                    .post(url)
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("client_id", "spa"),
                        ("code", code.as_str()),
                        ("redirect_uri", redirect),
                        ("code_verifier", verifier),
                    ])
                    .send()
                    .await
                    .unwrap();
                (
                    reply.status().as_u16(),
                    reply.json::<Value>().await.unwrap(),
                )
            }
        };

        // The happy path: tokens for erin, the nonce in the ID token.
        let code = new_code("spa", Some(CHALLENGE)).await;
        let (status, tokens) = exchange(code.clone(), VERIFIER, REDIRECT).await;
        assert_eq!(status, 200, "{name}: {tokens}");
        let id =
            svc_auth::routes::introspect::payload(tokens["id_token"].as_str().unwrap()).unwrap();
        assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(id["sub"], erin.as_str());
        assert_eq!(id["aud"], "spa");

        // Replayed: refused, and the tokens of the first exchange stop working.
        let (status, body) = exchange(code, VERIFIER, REDIRECT).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{name}"
        );
        let refresh = client
            .post(&token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "spa"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            refresh.status(),
            400,
            "{name}: the replay ended the session"
        );

        // Each wrong part is refused, and spends the code.
        let wrong_verifier = "aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        for (verifier, redirect, why) in [
            (wrong_verifier, REDIRECT, "wrong verifier"),
            (VERIFIER, "https://app.example/other", "wrong redirect URI"),
        ] {
            let code = new_code("spa", Some(CHALLENGE)).await;
            let (status, body) = exchange(code, verifier, redirect).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "{name}: {why}"
            );
        }
        let other = new_code("admin-cli", Some(CHALLENGE)).await;
        let (status, _) = exchange(other, VERIFIER, REDIRECT).await;
        assert_eq!(status, 400, "{name}: a code of another client");
        // A public client's code without a challenge is never redeemable.
        let bare = new_code("spa", None).await;
        let reply = client
            .post(&token_url)
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", bare.as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            400,
            "{name}: PKCE is required for public clients"
        );
        let (status, body) = exchange("made-up".into(), VERIFIER, REDIRECT).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        platform.stop().await;
    }
}
