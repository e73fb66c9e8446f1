//! Users signing in with the password grant, through the gateway, on every backend: the
//! bootstrap administrator, users made through the admin API, refresh-token rotation and
//! replay, and Keycloak's brute-force lockout shared by parallel requests.

use crate::common::{ADMIN_PASSWORD, ADMIN_USERNAME, master_admin_token, ready_platform, service};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Map, Value, json};

fn claims_of(jwt: &str) -> Map<String, Value> {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn password_grant(
    client: &reqwest::Client,
    gw: &str,
    tenant: &str,
    username: &str,
    password: &str,
) -> (u16, Value) {
    let reply = client
        .post(format!(
            "{gw}/realms/{tenant}/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", username),
            ("password", password),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

async fn refresh_grant(
    client: &reqwest::Client,
    gw: &str,
    tenant: &str,
    token: &str,
) -> (u16, Value) {
    let reply = client
        .post(format!(
            "{gw}/realms/{tenant}/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "admin-cli"),
            ("refresh_token", token),
        ])
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

/// A tenant stored directly (its admin routes are tested elsewhere) with Keycloak's default
/// clients, as tenant creation makes them.
async fn add_tenant(platform: &idp::Platform, env: &TestEnv, name: &str, settings: Value) {
    let tenants = service(platform, ServiceKind::Tenants);
    let tenant = svc_tenants::new_tenant(name, true, settings.as_object().unwrap().clone(), 1);
    tenants
        .ctx
        .db
        .run(move |conn| svc_tenants::store::insert(conn, &tenant))
        .await
        .unwrap();
    let apps = service(platform, ServiceKind::Apps);
    let token = env.settings().security.service_token.unwrap();
    let reply = http()
        .post(format!(
            "{}/internal/realms/{name}/default-clients",
            apps.url
        ))
        .header("x-idp-service-token", token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
}

/// Creates a user with a password through Keycloak's admin API; its id.
async fn create_user(
    client: &reqwest::Client,
    gw: &str,
    admin: &str,
    tenant: &str,
    body: Value,
) -> String {
    let reply = client
        .post(format!("{gw}/admin/realms/{tenant}/users"))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    location.rsplit('/').next().unwrap().to_owned()
}

#[actix_web::test]
async fn users_sign_in_refresh_and_are_locked_out() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();

        // The bootstrap administrator signs in as Keycloak's admin tools do.
        let (status, reply) =
            password_grant(&client, &gw, "master", ADMIN_USERNAME, ADMIN_PASSWORD).await;
        assert_eq!(status, 200, "{name}: {reply}");
        let access = claims_of(reply["access_token"].as_str().unwrap());
        assert_eq!(access["typ"], "Bearer");
        assert_eq!(access["preferred_username"], ADMIN_USERNAME);
        assert_eq!(access["azp"], "admin-cli");
        assert!(
            access["realm_access"]["roles"]
                .as_array()
                .unwrap()
                .contains(&json!("admin"))
        );
        assert_eq!(
            access["resource_access"]["realm-management"]["roles"],
            json!(["realm-admin"])
        );
        assert_eq!(access["sid"], reply["session_state"]);
        let id_token = claims_of(reply["id_token"].as_str().unwrap());
        assert_eq!(id_token["typ"], "ID");
        assert_eq!(id_token["aud"], "admin-cli");
        assert_eq!(id_token["sub"], access["sub"]);
        assert_eq!(
            claims_of(reply["refresh_token"].as_str().unwrap())["typ"],
            "Refresh"
        );
        assert_eq!(reply["token_type"], "Bearer");

        // Wrong password, unknown user: the same answer, word for word.
        let (s1, wrong) = password_grant(&client, &gw, "master", ADMIN_USERNAME, "nope").await;
        let (s2, unknown) = password_grant(&client, &gw, "master", "nobody", "nope").await;
        assert_eq!((s1, s2), (400, 400), "{name}");
        assert_eq!(wrong, unknown, "{name}");
        assert_eq!(wrong["error"], "invalid_grant");

        // A tenant with lockout on: 3 failures lock for 60 s.
        add_tenant(
            &platform,
            &env,
            "acme",
            json!({"bruteForceProtected": true, "failureFactor": 3,
                   "waitIncrementSeconds": 60, "quickLoginCheckMilliSeconds": 0}),
        )
        .await;
        let admin = master_admin_token(&client, &gw).await;
        let carol = create_user(
            &client,
            &gw,
            &admin,
            "acme",
            json!({"username": "Carol", "email": "carol@example.com", "enabled": true,
                   "firstName": "Carol", "lastName": "Jones",
                   "credentials": [{"type": "password", "value": "carol-Secret-1", "temporary": false}]}),
        )
        .await;
        let (status, reply) = password_grant(&client, &gw, "acme", "carol", "carol-Secret-1").await;
        assert_eq!(status, 200, "{name}: {reply}");
        let access = claims_of(reply["access_token"].as_str().unwrap());
        assert_eq!(access["sub"], carol);
        assert_eq!(access["name"], "Carol Jones");
        assert_eq!(access["email"], "carol@example.com");
        // By email too, as Keycloak allows.
        let (status, _) =
            password_grant(&client, &gw, "acme", "carol@example.com", "carol-Secret-1").await;
        assert_eq!(status, 200, "{name}");

        // Refresh: the new pair works, the spent token is refused.
        let first_refresh = reply["refresh_token"].as_str().unwrap().to_owned();
        let (status, refreshed) = refresh_grant(&client, &gw, "acme", &first_refresh).await;
        assert_eq!(status, 200, "{name}: {refreshed}");
        assert_eq!(
            claims_of(refreshed["access_token"].as_str().unwrap())["sid"],
            access["sid"]
        );
        let (status, again) = refresh_grant(&client, &gw, "acme", &first_refresh).await;
        assert_eq!(
            (status, again["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // Within the grace a spent token is a race: the session lives on.
        let second = refreshed["refresh_token"].as_str().unwrap().to_owned();
        let (status, _) = refresh_grant(&client, &gw, "acme", &second).await;
        assert_eq!(status, 200, "{name}: the session survived a racing refresh");

        // Parallel refreshes of one token: exactly one wins.
        let (_, fresh) = password_grant(&client, &gw, "acme", "carol", "carol-Secret-1").await;
        let token = fresh["refresh_token"].as_str().unwrap().to_owned();
        let racers = (0..8).map(|_| refresh_grant(&client, &gw, "acme", &token));
        let results = futures_util::future::join_all(racers).await;
        let wins = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(wins, 1, "{name}: {results:?}");

        // A replay after the grace ends the whole session: its newest tokens die too.
        let (_, session) = password_grant(&client, &gw, "acme", "carol", "carol-Secret-1").await;
        let spent = session["refresh_token"].as_str().unwrap().to_owned();
        let (_, rotated) = refresh_grant(&client, &gw, "acme", &spent).await;
        tokio::time::sleep(std::time::Duration::from_millis(
            svc_auth::sessions::REUSE_GRACE_MS as u64 + 300,
        ))
        .await;
        let (status, _) = refresh_grant(&client, &gw, "acme", &spent).await;
        assert_eq!(status, 400);
        let newest = rotated["refresh_token"].as_str().unwrap();
        let (status, reply) = refresh_grant(&client, &gw, "acme", newest).await;
        assert_eq!(
            (status, reply["error_description"].as_str()),
            (400, Some("Session not active")),
            "{name}"
        );
        let bearer = client
            .get(format!("{gw}/admin/realms/acme/users/{carol}"))
            .bearer_auth(rotated["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            bearer.status(),
            401,
            "{name}: the ended session's access token is refused"
        );

        // Lockout: parallel wrong passwords are all counted and lock the account; then even
        // the right password gets the same answer as a wrong one.
        let tries =
            (0..10).map(|_| password_grant(&client, &gw, "acme", "carol", "wrong-password"));
        for (status, _) in futures_util::future::join_all(tries).await {
            assert_eq!(status, 400);
        }
        let status_url =
            format!("{gw}/admin/realms/acme/attack-detection/brute-force/users/{carol}");
        let lock: Value = client
            .get(&status_url)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(lock["numFailures"], 10, "{name}: {lock}");
        assert_eq!(lock["disabled"], true);
        let (status, locked) =
            password_grant(&client, &gw, "acme", "carol", "carol-Secret-1").await;
        assert_eq!(status, 400, "{name}");
        assert_eq!(
            locked, wrong,
            "{name}: a locked account answers like a wrong password"
        );
        // An administrator clears it.
        let cleared = client
            .delete(&status_url)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(cleared.status(), 204);
        let (status, _) = password_grant(&client, &gw, "acme", "carol", "carol-Secret-1").await;
        assert_eq!(status, 200, "{name}");

        platform.stop().await;
    }
}
