//! What the platform tests share: the whole platform started as `cargo run` starts it.

use idp_shared::ServiceKind;
use idp_shared::service::RunningService;
use idp_shared::testkit::TestEnv;
use serde_json::Value;

/// The bootstrap administrator of `master` every test platform starts with.
pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASSWORD: &str = "bootstrap-Admin-passw0rd";

/// The all-in-one platform on an ephemeral port, every service migrated and bootstrapped.
pub async fn ready_platform(env: &TestEnv) -> idp::Platform {
    let mut settings = env.settings();
    settings.http.bind = Some("127.0.0.1:0".into());
    settings.bootstrap_admin_username = Some(ADMIN_USERNAME.into());
    settings.bootstrap_admin_password = Some(idp_shared::config::Secret::new(ADMIN_PASSWORD));
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

/// An access token of the bootstrap administrator of `master` (password grant with Keycloak's
/// public `admin-cli` client, as Keycloak's admin tools log in), through the gateway.
pub async fn master_admin_token(client: &reqwest::Client, gw: &str) -> String {
    password_token(
        client,
        gw,
        "master",
        "admin-cli",
        ADMIN_USERNAME,
        ADMIN_PASSWORD,
    )
    .await
}

/// An access token from a password grant with a public client, through the gateway.
pub async fn password_token(
    client: &reqwest::Client,
    gw: &str,
    tenant: &str,
    client_id: &str,
    username: &str,
    password: &str,
) -> String {
    let reply = client
        .post(format!(
            "{gw}/realms/{tenant}/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", client_id),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let reply: Value = reply.json().await.unwrap();
    reply["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {reply}"))
        .to_owned()
}
