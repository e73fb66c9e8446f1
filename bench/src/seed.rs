//! Seeds the platform through its own admin API: one realm per signing algorithm, each with a
//! confidential client (service account, direct access grants) and a user with a password.

use serde_json::{Value, json};

use crate::platform::Platform;

pub const SECRET: &str = "bench-secret-0123456789abcdefghijklmnopqrstuv";
pub const PASSWORD: &str = "Bench-passw0rd!";

pub struct Seeded {
    pub gateway: String,
    /// (realm, algorithm).
    pub realms: Vec<(String, &'static str)>,
    pub admin_token: String,
    /// A user of the first realm, for the proxied GET.
    pub user_id: String,
    /// svc-users' own address, for the same GET without the gateway.
    pub users_service: Option<String>,
    /// nginx proxying to svc-users, when installed.
    pub nginx: Option<String>,
    /// The gateway as its own process proxying to the platform's services.
    pub proxy_gateway: Option<String>,
    /// Processes in front of the platform (base URL, pid): a request through one costs its
    /// CPU (and its children's: nginx's workers) as well as the platform's.
    pub fronts: Vec<(String, u32)>,
    pub http: reqwest::Client,
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: Value) -> Result<(), String> {
    let reply = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if reply.status().as_u16() != 201 {
        return Err(format!(
            "{url}: {} {}",
            reply.status(),
            reply.text().await.unwrap_or_default()
        ));
    }
    Ok(())
}

pub async fn seed(platform: &Platform) -> Result<Seeded, String> {
    let http = platform.http.clone();
    let gw = &platform.gateway;
    let login: Value = http
        .post(format!("{gw}/realms/master/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", platform.admin_username.as_str()),
            ("password", platform.admin_password.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let first = login["access_token"]
        .as_str()
        .ok_or_else(|| format!("admin login failed: {login}"))?
        .to_owned();
    // Seeding 100,000 users outlasts master's 5-minute tokens: an hour for this run.
    let reply = http
        .put(format!("{gw}/admin/realms/master"))
        .bearer_auth(&first)
        .json(&json!({"accessTokenLifespan": 3600}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !reply.status().is_success() {
        return Err(format!("master lifespan: {}", reply.status()));
    }
    let login: Value = http
        .post(format!("{gw}/realms/master/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", platform.admin_username.as_str()),
            ("password", platform.admin_password.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let admin = login["access_token"]
        .as_str()
        .ok_or_else(|| format!("admin login failed: {login}"))?
        .to_owned();
    let mut realms = Vec::new();
    for (realm, algorithm) in [("bench-rs256", "RS256"), ("bench-es256", "ES256")] {
        post(
            &http,
            &format!("{gw}/admin/realms"),
            &admin,
            json!({"realm": realm, "enabled": true, "defaultSignatureAlgorithm": algorithm,
                   "accessTokenLifespan": 3600}),
        )
        .await?;
        post(
            &http,
            &format!("{gw}/admin/realms/{realm}/clients"),
            &admin,
            json!({"clientId": "bench-app", "secret": SECRET, "publicClient": false,
                   "serviceAccountsEnabled": true, "directAccessGrantsEnabled": true}),
        )
        .await?;
        post(
            &http,
            &format!("{gw}/admin/realms/{realm}/users"),
            &admin,
            json!({"username": "bench-user", "enabled": true,
                   "credentials": [{"type": "password", "value": PASSWORD, "temporary": false}]}),
        )
        .await?;
        realms.push((realm.to_owned(), algorithm));
    }
    let users: Value = http
        .get(format!(
            "{gw}/admin/realms/bench-rs256/users?username=bench-user&exact=true"
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let user_id = users[0]["id"]
        .as_str()
        .ok_or_else(|| format!("seeded user not found: {users}"))?
        .to_owned();
    Ok(Seeded {
        gateway: gw.clone(),
        realms,
        admin_token: admin,
        user_id,
        users_service: platform.services.get("svc-users").cloned(),
        nginx: None,
        proxy_gateway: None,
        fronts: Vec::new(),
        http,
    })
}

/// Users seeded between two ANALYZE runs on PostgreSQL.
const ANALYZE_EVERY: usize = 10_000;

/// Refreshes PostgreSQL's statistics of the whole database (with `psql`, where installed):
/// what autovacuum does on a server that has it on. Without it, a table that grew from empty
/// keeps the plans made when it was empty (a sequential scan per insert's uniqueness check).
pub fn analyze(database_url: &str) {
    let status = std::process::Command::new("psql")
        .env("PGOPTIONS", "--client-min-messages=warning")
        .arg(database_url)
        .args(["-qc", "ANALYZE"])
        .stdout(std::process::Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("note: ANALYZE through psql failed; figures may reflect stale statistics");
    }
}

/// Seeds `count` users (no passwords: list and search do not hash) through the admin API,
/// `concurrency` at a time: `user-000042` with a `dept` attribute of ten values.
pub async fn seed_users(
    seeded: &Seeded,
    count: usize,
    concurrency: usize,
    database_url: Option<&str>,
) -> Result<(), String> {
    let mut done = 0;
    while done < count {
        let batch = ANALYZE_EVERY.min(count - done);
        seed_user_range(seeded, done..done + batch, concurrency).await?;
        done += batch;
        if let Some(url) = database_url {
            analyze(url);
        }
    }
    Ok(())
}

async fn seed_user_range(
    seeded: &Seeded,
    range: std::ops::Range<usize>,
    concurrency: usize,
) -> Result<(), String> {
    let count = range.end;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(range.start));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, http) = (next.clone(), seeded.http.clone());
        let url = format!("{}/admin/realms/bench-rs256/users", seeded.gateway);
        let token = seeded.admin_token.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return Ok::<(), String>(());
                }
                let body = json!({
                    "username": format!("user-{i:06}"),
                    "email": format!("user-{i:06}@bench.example"),
                    "firstName": format!("First{i}"),
                    "lastName": format!("Last{}", i % 1000),
                    "enabled": true,
                    "attributes": {"dept": [format!("dept-{}", i % 10)]},
                });
                post(&http, &url, &token, body).await?;
            }
        }));
    }
    for worker in workers {
        worker.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}
