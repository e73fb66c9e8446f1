//! What the platform tests share: the whole platform started as `cargo run` starts it.

#![allow(dead_code)] // each test binary uses its own part of this module

use idp_shared::ServiceKind;
use idp_shared::service::RunningService;
use idp_shared::testkit::TestEnv;
use serde_json::Value;

/// The all-in-one platform on an ephemeral port, every service migrated and bootstrapped.
pub async fn ready_platform(env: &TestEnv) -> idp::Platform {
    let mut settings = env.settings();
    settings.http.bind = Some("127.0.0.1:0".into());
    let platform = idp::start(settings).await.unwrap();
    for svc in &platform.services {
        idp_shared::testkit::wait_until_started(svc).await;
    }
    platform
}

pub fn service(platform: &idp::Platform, kind: ServiceKind) -> &RunningService {
    platform.services.iter().find(|s| s.kind == kind).unwrap()
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// A confidential client with a service account, stored through svc-apps (until its admin
/// route exists), its secret sealed as svc-apps seals it.
pub async fn add_service_client(
    platform: &idp::Platform,
    tenant: &str,
    client_id: &str,
    secret: &str,
) {
    use svc_apps::client::{Switches, new_app};
    let apps = service(platform, ServiceKind::Apps);
    let secrets = idp_shared::security::SecretBox::from_settings(&apps.ctx.settings).unwrap();
    let mut app = new_app(
        tenant,
        client_id,
        Switches {
            service_accounts_enabled: true,
            ..Switches::default()
        },
        Default::default(),
        &[],
        1,
    );
    app.row.secret_sealed =
        Some(secrets.seal(secret.as_bytes(), &svc_apps::secret_context(&app.row.id)));
    apps.ctx
        .db
        .run(move |conn| svc_apps::store::insert(conn, &app))
        .await
        .unwrap();
}

/// An access token of the client's service account, through the gateway.
pub async fn client_credentials_token(
    client: &reqwest::Client,
    gw: &str,
    tenant: &str,
    client_id: &str,
    secret: &str,
) -> String {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    let reply = client
        .post(format!(
            "{gw}/realms/{tenant}/protocol/openid-connect/token"
        ))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let reply: Value = reply.json().await.unwrap();
    reply["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {reply}"))
        .to_owned()
}
