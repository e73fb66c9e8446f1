//! Keycloak's push-revocation on every backend: after it, every token the tenant issued
//! before is refused (by the gateway and by the services, within the verifiers' refresh of
//! the realm's notBefore), also tokens without a session; tokens issued after work.

use crate::common::{
    add_service_client, client_credentials_token, master_admin_token, ready_platform,
};
use idp_shared::bearer::NOT_BEFORE_MAX_AGE;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Value, json};

const SECRET: &str = "pR8Kq3mW7xT1vB5nY9cD2fH6jL0pS4gA8eU3iO7uR1";

#[actix_web::test]
async fn push_revocation_refuses_every_earlier_token() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let created = client
            .post(format!("{gw}/admin/realms"))
            .bearer_auth(&admin)
            .json(&json!({"realm": "acme", "enabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        add_service_client(&platform, "acme", "robot", SECRET).await;
        let probe = |token: String| {
            let (client, url) = (
                client.clone(),
                format!("{gw}/realms/acme/kobilriskbits/resources-auth"),
            );
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
        let before = client_credentials_token(&client, &gw, "acme", "robot", SECRET).await;
        assert_eq!(probe(before.clone()).await, 200, "{name}");

        // Keycloak's clients send the tokens' second; wait past it so "before" is strictly older.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let pushed = client
            .post(format!("{gw}/admin/realms/acme/push-revocation"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status(), 200, "{name}");
        let realm: Value = client
            .get(format!("{gw}/admin/realms/acme"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(realm["notBefore"].as_i64().unwrap() > 0, "{name}: {realm}");

        tokio::time::sleep(NOT_BEFORE_MAX_AGE + std::time::Duration::from_millis(300)).await;
        assert_eq!(
            probe(before).await,
            401,
            "{name}: an earlier token is refused"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let after = client_credentials_token(&client, &gw, "acme", "robot", SECRET).await;
        assert_eq!(probe(after).await, 200, "{name}: a later token works");
        // Master's tokens are not touched.
        assert_eq!(probe(admin.clone()).await, 200, "{name}");

        platform.stop().await;
    }
}
