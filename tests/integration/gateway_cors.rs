//! CORS at the gateway, on every backend: preflights from a tenant's apps' web origins are
//! answered (with credentials), others are refused; `+` means the redirect URIs' origins; an
//! app change counts at once; discovery is open to every origin without credentials.

use crate::common::{master_admin_token, ready_platform};
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Value, json};

async fn preflight(client: &reqwest::Client, url: &str, origin: &str) -> reqwest::Response {
    client
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn preflights_follow_the_tenants_web_origins() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let realm = client
            .post(format!("{gw}/admin/realms"))
            .bearer_auth(&admin)
            .json(&json!({"realm": "acme", "enabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(realm.status(), 201);
        let app = client
            .post(format!("{gw}/admin/realms/acme/clients"))
            .bearer_auth(&admin)
            .json(&json!({"clientId": "spa", "publicClient": true,
                          "redirectUris": ["https://spa.example/callback"],
                          "webOrigins": ["+", "https://admin.example"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(app.status(), 201, "{name}");
        let app_id = app.headers()["location"]
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let token_url = format!("{gw}/realms/acme/protocol/openid-connect/token");

        for origin in ["https://spa.example", "https://admin.example"] {
            let reply = preflight(&client, &token_url, origin).await;
            assert_eq!(reply.status(), 204, "{name}: {origin}");
            let h = reply.headers();
            assert_eq!(h["access-control-allow-origin"], origin);
            assert_eq!(h["access-control-allow-credentials"], "true");
            assert!(
                h["access-control-allow-methods"]
                    .to_str()
                    .unwrap()
                    .contains("POST")
            );
            assert_eq!(
                h["access-control-allow-headers"],
                "authorization, content-type"
            );
        }
        let refused = preflight(&client, &token_url, "https://evil.example").await;
        assert_eq!(refused.status(), 403, "{name}");
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        // Another tenant's origins are not this one's.
        let master = preflight(
            &client,
            &format!("{gw}/realms/master/protocol/openid-connect/token"),
            "https://spa.example",
        )
        .await;
        assert_eq!(master.status(), 403, "{name}");

        // A real cross-origin request is decorated for a listed origin only.
        let answered = client
            .post(&token_url)
            .header("origin", "https://spa.example")
            .form(&[
                ("grant_type", "password"),
                ("client_id", "spa"),
                ("username", "x"),
                ("password", "y"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            answered.headers()["access-control-allow-origin"],
            "https://spa.example"
        );
        let foreign = client
            .post(&token_url)
            .header("origin", "https://evil.example")
            .form(&[("grant_type", "password"), ("client_id", "spa")])
            .send()
            .await
            .unwrap();
        assert!(
            foreign
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );

        // Discovery is for everyone, without credentials.
        let discovery = client
            .get(format!("{gw}/realms/acme/.well-known/openid-configuration"))
            .header("origin", "https://anyone.example")
            .send()
            .await
            .unwrap();
        assert_eq!(discovery.headers()["access-control-allow-origin"], "*");
        assert!(
            discovery
                .headers()
                .get("access-control-allow-credentials")
                .is_none()
        );

        // An app change counts at once.
        let mut rep: Value = client
            .get(format!("{gw}/admin/realms/acme/clients/{app_id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rep["webOrigins"] = json!(["https://new.example"]);
        let put = client
            .put(format!("{gw}/admin/realms/acme/clients/{app_id}"))
            .bearer_auth(&admin)
            .json(&rep)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 204, "{name}");
        assert_eq!(
            preflight(&client, &token_url, "https://new.example")
                .await
                .status(),
            204,
            "{name}"
        );
        assert_eq!(
            preflight(&client, &token_url, "https://admin.example")
                .await
                .status(),
            403,
            "{name}"
        );

        platform.stop().await;
    }
}
