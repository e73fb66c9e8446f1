//! svc-apps' internal routes over HTTP on every backend: the default clients of `master` and of
//! a new tenant, idempotent creation, and what the token endpoint learns of a client (a hash
//! of its secret, never the secret).

use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::Value;
use sha2::{Digest, Sha256};
use svc_apps::client::{Switches, new_app};
use svc_apps::{State, secret_context, store};

#[actix_web::test]
async fn default_clients_and_the_token_endpoint_view_of_a_client() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let svc = env.spawn::<State>().await;
        let name = backend.name();
        let token = svc.ctx.settings.security.service_token.clone().unwrap();
        let client = http();
        let get = |path: &str| {
            client
                .get(format!("{}{path}", svc.url))
                .header(SERVICE_TOKEN_HEADER, token.expose())
                .send()
        };

        // master was bootstrapped with Keycloak's default clients.
        let cli: Value = get("/internal/realms/master/clients/admin-cli")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(cli["client"]["clientId"], "admin-cli", "{name}: {cli}");
        assert_eq!(cli["client"]["publicClient"], true);
        assert_eq!(cli["client"]["directAccessGrantsEnabled"], true);
        assert!(
            cli["secretSha256"].is_null(),
            "{name}: a public client has no secret"
        );
        let rm: Value = get("/internal/realms/master/clients/realm-management")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rm["client"]["bearerOnly"], true);
        assert_eq!(rm["roles"].as_array().unwrap().len(), 19, "{name}");

        // A new tenant's defaults, created once however often asked.
        for _ in 0..2 {
            let resp = client
                .post(format!("{}/internal/realms/acme/default-clients", svc.url))
                .header(SERVICE_TOKEN_HEADER, token.expose())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{name}");
            let ids: Vec<String> = resp.json().await.unwrap();
            assert_eq!(ids, vec!["admin-cli", "realm-management"], "{name}");
        }
        let bad = client
            .post(format!(
                "{}/internal/realms/bad%20name/default-clients",
                svc.url
            ))
            .header(SERVICE_TOKEN_HEADER, token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400, "{name}");

        // A confidential client: the secret is sealed at rest and only its hash goes out.
        let mut app = new_app(
            "acme",
            "backend",
            Switches {
                service_accounts_enabled: true,
                ..Switches::default()
            },
            Default::default(),
            &[],
            1,
        );
        let secret = "s3cr3t-value-with-enough-entropy-0123456789";
        app.row.secret_sealed =
            Some(svc_state_secrets(&env).seal(secret.as_bytes(), &secret_context(&app.row.id)));
        let sealed = app.row.secret_sealed.clone().unwrap();
        svc.ctx
            .db
            .run(move |conn| store::insert(conn, &app))
            .await
            .unwrap();
        assert!(!sealed.contains(secret));
        let view: Value = get("/internal/realms/acme/clients/backend")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            view["secretSha256"],
            hex::encode(Sha256::digest(secret)),
            "{name}"
        );
        assert!(
            !view.to_string().contains(secret),
            "{name}: the secret left the service"
        );

        let missing = get("/internal/realms/acme/clients/nope").await.unwrap();
        assert_eq!(missing.status(), 404, "{name}");
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["error"], "APP_NOT_FOUND");
        let other_tenant = get("/internal/realms/master/clients/backend")
            .await
            .unwrap();
        assert_eq!(other_tenant.status(), 404, "{name}: apps are per tenant");

        let anonymous = client
            .get(format!(
                "{}/internal/realms/master/clients/admin-cli",
                svc.url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{name}");
        svc.handle.stop(true).await;
    }
}

/// The service's own sealing key, as configured for this environment.
fn svc_state_secrets(env: &TestEnv) -> idp_shared::security::SecretBox {
    idp_shared::security::SecretBox::from_settings(&env.settings()).unwrap()
}
