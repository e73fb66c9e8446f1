//! FOLIO's token API (mod-login-keycloak's `/token/...`) through the gateway, on every
//! backend: sign (administrators only), refresh (the old refresh token is spent), invalidate,
//! invalidate-all, and the deprecated legacy routes. The tenant comes from `X-Okapi-Tenant`.

use crate::common::{master_admin_token, ready_platform};
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Value, json};

async fn post(
    client: &reqwest::Client,
    url: &str,
    tenant: Option<&str>,
    token: Option<&str>,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(t) = tenant {
        request = request.header("x-okapi-tenant", t);
    }
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let headers = reply.headers().clone();
    let text = reply.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn folio_tokens_are_signed_refreshed_and_invalidated() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        for (url, body) in [
            (
                format!("{gw}/admin/realms"),
                json!({"realm": "diku", "enabled": true}),
            ),
            (
                format!("{gw}/admin/realms/diku/users"),
                json!({"username": "folio-user", "enabled": true,
                       "credentials": [{"type": "password", "value": "Folio-pass-1", "temporary": false}]}),
            ),
        ] {
            let reply = client
                .post(url)
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 201, "{name}");
        }
        let sign = format!("{gw}/token/sign");

        // Minting needs an administrator's token and the tenant header.
        let payload = json!({"payload": {"sub": "folio-user"}});
        let (status, _, _) = post(&client, &sign, Some("diku"), None, payload.clone()).await;
        assert_eq!(status, 401, "{name}: no token");
        let (status, _, body) = post(&client, &sign, None, Some(&admin), payload.clone()).await;
        assert_eq!(status, 400, "{name}: no X-Okapi-Tenant: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("X-Okapi-Tenant")
        );
        let (status, _, pair) = post(&client, &sign, Some("diku"), Some(&admin), payload).await;
        assert_eq!(status, 201, "{name}: {pair}");
        assert_eq!(pair["token"], pair["accessToken"]);
        assert!(
            pair["accessTokenExpiration"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        let access = pair["accessToken"].as_str().unwrap().to_owned();
        let claims = svc_auth::routes::introspect::payload(&access).unwrap();
        assert_eq!(claims["preferred_username"], "folio-user");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600
        );
        let (status, _, body) = post(
            &client,
            &sign,
            Some("diku"),
            Some(&admin),
            json!({"payload": {"sub": "nobody"}}),
        )
        .await;
        assert_eq!(status, 400, "{name}: unknown subject: {body}");
        // A plain user may not mint tokens for others.
        let (status, _, _) = post(
            &client,
            &sign,
            Some("diku"),
            Some(&access),
            json!({"payload": {"sub": "folio-user"}}),
        )
        .await;
        assert_eq!(status, 403, "{name}");

        // Refresh: a new pair; the old refresh token is spent.
        let refresh_url = format!("{gw}/token/refresh");
        let old = pair["refreshToken"].as_str().unwrap().to_owned();
        let (status, _, next) = post(
            &client,
            &refresh_url,
            Some("diku"),
            None,
            json!({"refreshToken": old}),
        )
        .await;
        assert_eq!(status, 201, "{name}: {next}");
        assert_ne!(next["refreshToken"], pair["refreshToken"]);
        let (status, _, _) = post(
            &client,
            &refresh_url,
            Some("diku"),
            None,
            json!({"refreshToken": old}),
        )
        .await;
        assert_eq!(status, 400, "{name}: spent");
        let (status, _, _) = post(&client, &refresh_url, Some("diku"), None, json!({})).await;
        assert_eq!(status, 400, "{name}: missing refreshToken");

        // Invalidate ends that session.
        let newest = next["refreshToken"].as_str().unwrap().to_owned();
        let (status, _, _) = post(
            &client,
            &format!("{gw}/token/invalidate"),
            Some("diku"),
            None,
            json!({"refreshToken": newest}),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (status, _, _) = post(
            &client,
            &refresh_url,
            Some("diku"),
            None,
            json!({"refreshToken": newest}),
        )
        .await;
        assert_eq!(status, 400, "{name}: invalidated");

        // Invalidate-all ends every session of the caller's user.
        let payload = json!({"payload": {"sub": "folio-user"}});
        let (_, _, a) = post(&client, &sign, Some("diku"), Some(&admin), payload.clone()).await;
        let (_, _, b) = post(&client, &sign, Some("diku"), Some(&admin), payload).await;
        let user_token = a["accessToken"].as_str().unwrap().to_owned();
        let (status, _, _) = post(
            &client,
            &format!("{gw}/token/invalidate-all"),
            Some("diku"),
            Some(&user_token),
            json!({}),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        for pair in [&a, &b] {
            let (status, _, _) = post(
                &client,
                &refresh_url,
                Some("diku"),
                None,
                json!({"refreshToken": pair["refreshToken"]}),
            )
            .await;
            assert_eq!(status, 400, "{name}: every session ended");
        }

        // Legacy routes work and say they are deprecated.
        let (status, headers, legacy) = post(
            &client,
            &format!("{gw}/token"),
            Some("diku"),
            Some(&admin),
            json!({"payload": {"sub": "folio-user"}}),
        )
        .await;
        assert_eq!(status, 201, "{name}: {legacy}");
        assert_eq!(headers["deprecation"], "true");
        let claims =
            svc_auth::routes::introspect::payload(legacy["token"].as_str().unwrap()).unwrap();
        assert!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() > 300 * 24 * 3600
        );

        platform.stop().await;
    }
}
