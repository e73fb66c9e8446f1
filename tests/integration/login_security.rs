//! The second factor and the lockout through the gateway, on every backend: TOTP codes
//! accepted once, refused when wrong, missing or replayed (password grant and FOLIO login);
//! 50 parallel wrong passwords all counted, locking the account until the configured wait
//! has passed; NEVIS's credential listing with states taken from the lockout and resets.

use crate::common::{master_admin_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::names::now_millis;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Value, json};
use svc_login::otp::OtpParams;

const TENANT: &str = "vault";
/// 20 random-looking bytes, base32: what an authenticator app is given.
const SEED_BASE32: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

async fn create_realm(client: &reqwest::Client, gw: &str, admin: &str, body: Value) {
    let reply = client
        .post(format!("{gw}/admin/realms"))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
}

async fn create_user(
    client: &reqwest::Client,
    gw: &str,
    admin: &str,
    username: &str,
    password: &str,
    temporary: bool,
) -> String {
    let reply = client
        .post(format!("{gw}/admin/realms/{TENANT}/users"))
        .bearer_auth(admin)
        .json(&json!({"username": username, "enabled": true,
            "credentials": [{"type": "password", "value": password, "temporary": temporary}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    location.rsplit('/').next().unwrap().to_owned()
}

async fn password_grant(
    client: &reqwest::Client,
    gw: &str,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "password"),
        ("client_id", "admin-cli"),
        ("username", username),
        ("password", password),
    ];
    if let Some(code) = totp {
        form.push(("totp", code));
    }
    let reply = client
        .post(format!(
            "{gw}/realms/{TENANT}/protocol/openid-connect/token"
        ))
        .form(&form)
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

async fn folio_login(client: &reqwest::Client, gw: &str, body: Value) -> (u16, Value) {
    let reply = client
        .post(format!("{gw}/authn/login"))
        .header("x-okapi-tenant", TENANT)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// A call to one of svc-login's internal routes (the way svc-users will make it).
async fn internal(
    client: &reqwest::Client,
    platform: &idp::Platform,
    env: &TestEnv,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let svc = service(platform, ServiceKind::Login);
    let token = env.settings().security.service_token.unwrap();
    let reply = client
        .post(format!("{}{path}", svc.url))
        .header(SERVICE_TOKEN_HEADER, token.expose())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

fn code_at_offset(step_offset: i64) -> String {
    let seed = svc_login::otp::secret_from_base32(SEED_BASE32).unwrap();
    let at = (now_millis() / 1000 + step_offset * 30) as u64;
    OtpParams::default().code_at(&seed, at).unwrap()
}

async fn lockout_status(client: &reqwest::Client, gw: &str, admin: &str, user: &str) -> Value {
    client
        .get(format!(
            "{gw}/admin/realms/{TENANT}/attack-detection/brute-force/users/{user}"
        ))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn nevis(
    client: &reqwest::Client,
    gw: &str,
    token: &str,
    user: &str,
    query: &str,
) -> (u16, Value) {
    let reply = client
        .get(format!(
            "{gw}/nevisidm/api/core/v1/{TENANT}/users/{user}/credentials{query}"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

fn state_names(listing: &Value) -> Vec<(String, String)> {
    listing["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {listing}"))
        .iter()
        .map(|i| {
            (
                i["type"].as_str().unwrap().to_owned(),
                i["stateName"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn one_time_codes_are_required_and_accepted_once() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        create_realm(
            &client,
            &gw,
            &admin,
            json!({"realm": TENANT, "enabled": true, "bruteForceProtected": true,
                   "failureFactor": 30, "quickLoginCheckMilliSeconds": 0,
                   "passwordPolicy": "bcryptCost(4)"}),
        )
        .await;
        let otto = create_user(&client, &gw, &admin, "otto", "otto-Pass-1", false).await;
        let (_, wrong_password) = password_grant(&client, &gw, "otto", "nope", None).await;

        // Seeds must be base32 of at least 128 bits; nothing is stored otherwise.
        let otp_path = format!("/internal/realms/{TENANT}/users/{otto}/otp");
        let (status, short) = internal(
            &client,
            &platform,
            &env,
            &otp_path,
            json!({"secret": "JBSWY3DPEHPK3PXP"}),
        )
        .await;
        assert_eq!(status, 400, "{name}: {short}");
        assert!(
            short["message"].as_str().unwrap().contains("128"),
            "{short}"
        );
        let (status, _) = internal(
            &client,
            &platform,
            &env,
            &otp_path,
            json!({"secret": "not base32!"}),
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (status, _) = password_grant(&client, &gw, "otto", "otto-Pass-1", None).await;
        assert_eq!(status, 200, "{name}: no OTP credential yet");

        let (status, created) = internal(
            &client,
            &platform,
            &env,
            &otp_path,
            json!({"secret": SEED_BASE32.to_lowercase(), "userLabel": "phone"}),
        )
        .await;
        assert_eq!(status, 201, "{name}: {created}");
        assert!(created["id"].is_string());

        // The password alone, a wrong code: the same answer as a wrong password.
        let (status, no_code) = password_grant(&client, &gw, "otto", "otto-Pass-1", None).await;
        assert_eq!((status, &no_code), (400, &wrong_password), "{name}");
        let wrong_code = if code_at_offset(0) == "000000" {
            "111111"
        } else {
            "000000"
        };
        let (status, bad) =
            password_grant(&client, &gw, "otto", "otto-Pass-1", Some(wrong_code)).await;
        assert_eq!((status, &bad), (400, &wrong_password), "{name}");
        // A right code with a wrong password is no better (and does not spend the code).
        let code = code_at_offset(0);
        let (status, _) = password_grant(&client, &gw, "otto", "nope", Some(&code)).await;
        assert_eq!(status, 400, "{name}");

        // The right code is accepted once; its replay is refused.
        let (status, granted) =
            password_grant(&client, &gw, "otto", "otto-Pass-1", Some(&code)).await;
        assert_eq!(status, 200, "{name}: {granted}");
        let (status, replay) =
            password_grant(&client, &gw, "otto", "otto-Pass-1", Some(&code)).await;
        assert_eq!((status, &replay), (400, &wrong_password), "{name}: replay");

        // Every refusal above counted for the lockout (the success cleared the earlier ones).
        let lock = lockout_status(&client, &gw, &admin, &otto).await;
        assert_eq!(lock["numFailures"], 1, "{name}: {lock}");

        // FOLIO's login takes the code as `totp` too (the next step's, still in the window).
        let body = json!({"username": "otto", "password": "otto-Pass-1"});
        let (status, refused) = folio_login(&client, &gw, body.clone()).await;
        assert_eq!(status, 422, "{name}: {refused}");
        let next = code_at_offset(1);
        let mut with_code = body.clone();
        with_code["totp"] = json!(next);
        let (status, login) = folio_login(&client, &gw, with_code.clone()).await;
        assert_eq!(status, 201, "{name}: {login}");
        let (status, _) = folio_login(&client, &gw, with_code).await;
        assert_eq!(status, 422, "{name}: replayed through FOLIO");

        // svc-login's verify route, as svc-auth calls it.
        let verify = format!("/internal/realms/{TENANT}/password/verify");
        let (status, verdict) = internal(
            &client,
            &platform,
            &env,
            &verify,
            json!({"userId": otto, "password": "otto-Pass-1", "ip": "127.0.0.1"}),
        )
        .await;
        assert_eq!(
            (status, &verdict),
            (200, &json!({"valid": false, "temporary": false}))
        );

        // The listing shows the OTP credential as NEVIS's OATH type, the seed never.
        let (status, listing) = nevis(&client, &gw, &admin, &otto, "").await;
        assert_eq!(status, 200, "{name}: {listing}");
        let types = state_names(&listing);
        assert_eq!(
            types,
            [
                ("Password".into(), "active".into()),
                ("OATH".into(), "active".into())
            ],
            "{name}"
        );
        assert!(!listing.to_string().contains(SEED_BASE32), "{name}");
        assert_eq!(
            listing["items"][1]["successfulLoginCount"], 2,
            "{name}: {listing}"
        );

        platform.stop().await;
    }
}

#[actix_web::test]
async fn parallel_guesses_are_all_counted_and_the_lock_releases() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        create_realm(
            &client,
            &gw,
            &admin,
            json!({"realm": TENANT, "enabled": true, "bruteForceProtected": true,
                   "failureFactor": 5, "waitIncrementSeconds": 1, "maxFailureWaitSeconds": 2,
                   "quickLoginCheckMilliSeconds": 0, "passwordPolicy": "bcryptCost(4)"}),
        )
        .await;
        let paula = create_user(&client, &gw, &admin, "paula", "paula-Pass-1", false).await;
        let right = json!({"username": "paula", "password": "paula-Pass-1"});

        let guesses = (0..50).map(|i| {
            folio_login(
                &client,
                &gw,
                json!({"username": "paula", "password": format!("guess-{i}")}),
            )
        });
        for (status, body) in futures_util::future::join_all(guesses).await {
            assert_eq!(status, 422, "{name}: {body}");
        }
        let lock = lockout_status(&client, &gw, &admin, &paula).await;
        assert_eq!(
            lock["numFailures"], 50,
            "{name}: every guess counted: {lock}"
        );
        assert_eq!(lock["disabled"], true, "{name}");
        let (status, locked) = folio_login(&client, &gw, right.clone()).await;
        assert_eq!(
            status, 422,
            "{name}: the right password during the lock: {locked}"
        );
        let (status, _) = password_grant(&client, &gw, "paula", "paula-Pass-1", None).await;
        assert_eq!(status, 400, "{name}: the password grant shares the lock");
        let (_, listing) = nevis(&client, &gw, &admin, &paula, "").await;
        assert_eq!(
            state_names(&listing),
            [("Password".into(), "tmp-locked".into())],
            "{name}"
        );
        assert_eq!(listing["items"][0]["failedLoginCount"], 50, "{name}");

        // maxFailureWaitSeconds (2 s) later the account opens again.
        tokio::time::sleep(std::time::Duration::from_millis(2_300)).await;
        let (status, login) = folio_login(&client, &gw, right).await;
        assert_eq!(status, 201, "{name}: released: {login}");
        let lock = lockout_status(&client, &gw, &admin, &paula).await;
        assert_eq!(
            (lock["numFailures"].as_i64(), lock["disabled"].as_bool()),
            (Some(0), Some(false))
        );
        let (_, listing) = nevis(&client, &gw, &admin, &paula, "").await;
        assert_eq!(
            state_names(&listing),
            [("Password".into(), "active".into())],
            "{name}"
        );

        platform.stop().await;
    }
}

#[actix_web::test]
async fn nevis_lists_credentials_with_their_state_in_pages() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        create_realm(
            &client,
            &gw,
            &admin,
            json!({"realm": TENANT, "enabled": true, "bruteForceProtected": true,
                   "permanentLockout": true, "failureFactor": 2,
                   "quickLoginCheckMilliSeconds": 0,
                   "passwordPolicy": "bcryptCost(4) and forceExpiredPasswordChange(30)"}),
        )
        .await;
        let nina = create_user(&client, &gw, &admin, "nina", "nina-Pass-1", true).await;
        let otp_path = format!("/internal/realms/{TENANT}/users/{nina}/otp");
        let (status, _) = internal(
            &client,
            &platform,
            &env,
            &otp_path,
            json!({"secret": SEED_BASE32}),
        )
        .await;
        assert_eq!(status, 201, "{name}");

        // A temporary password is NEVIS's `initial`; validity ends with the password's expiry.
        let (status, all) = nevis(&client, &gw, &admin, &nina, "").await;
        assert_eq!(status, 200, "{name}: {all}");
        assert_eq!(
            state_names(&all),
            [
                ("Password".into(), "initial".into()),
                ("OATH".into(), "active".into())
            ],
            "{name}"
        );
        assert_eq!(all["_pagination"]["totalResult"], 2);
        assert!(
            all["_pagination"].get("continuationToken").is_none(),
            "{name}: one page"
        );
        let password = &all["items"][0];
        assert_eq!(password["userExtId"], nina.as_str());
        let from =
            svc_login::time::parse_iso(password["validity"]["from"].as_str().unwrap()).unwrap();
        let to = svc_login::time::parse_iso(password["validity"]["to"].as_str().unwrap()).unwrap();
        assert_eq!(to - from, 30 * 86_400_000, "{name}");
        assert!(svc_login::time::parse_iso(password["created"].as_str().unwrap()).is_some());

        // Pages of one: the token is `{createdMillis}_{extId}` of the last item.
        let (status, first) = nevis(&client, &gw, &admin, &nina, "?limit=1").await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(first["items"].as_array().unwrap().len(), 1);
        assert_eq!(first["_pagination"]["limit"], 1);
        assert_eq!(first["_pagination"]["totalResult"], 2);
        let token = first["_pagination"]["continuationToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let created =
            svc_login::time::parse_iso(first["items"][0]["created"].as_str().unwrap()).unwrap();
        assert_eq!(
            token,
            format!("{created}_{}", first["items"][0]["extId"].as_str().unwrap())
        );
        let (_, second) = nevis(
            &client,
            &gw,
            &admin,
            &nina,
            &format!("?limit=1&continuationToken={token}"),
        )
        .await;
        assert_eq!(
            second["items"].as_array().unwrap().len(),
            1,
            "{name}: {second}"
        );
        assert_eq!(second["items"][0], all["items"][1], "{name}");
        assert!(
            second["_pagination"].get("continuationToken").is_none(),
            "{name}: last page"
        );
        for bad in [
            "?continuationToken=garbage",
            "?continuationToken=12_",
            "?limit=-1",
            "?limit=x",
        ] {
            let (status, body) = nevis(&client, &gw, &admin, &nina, bad).await;
            assert_eq!(status, 400, "{name}: {bad}: {body}");
        }
        let (status, _) = nevis(&client, &gw, &admin, "no-such-user", "").await;
        assert_eq!(status, 404, "{name}");
        let anonymous = client
            .get(format!(
                "{gw}/nevisidm/api/core/v1/{TENANT}/users/{nina}/credentials"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{name}");

        // A live reset action: the password's state is `reset-code`.
        let action = client
            .post(format!("{gw}/authn/password-reset-action"))
            .header("x-okapi-tenant", TENANT)
            .bearer_auth(&admin)
            .json(
                &json!({"id": idp_shared::security::random_token(16), "userId": nina,
                "expirationTime": svc_login::time::format_iso(now_millis() + 3_600_000)}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(action.status(), 201, "{name}");
        let (_, listing) = nevis(&client, &gw, &admin, &nina, "").await;
        assert_eq!(listing["items"][0]["stateName"], "reset-code", "{name}");

        // permanentLockout: two failures lock for good (`fail-locked`) until an admin clears.
        let otp_code = code_at_offset(0);
        for _ in 0..2 {
            let (status, _) = password_grant(&client, &gw, "nina", "wrong", Some(&otp_code)).await;
            assert_eq!(status, 400);
        }
        let (_, listing) = nevis(&client, &gw, &admin, &nina, "").await;
        assert_eq!(
            state_names(&listing),
            [
                ("Password".into(), "fail-locked".into()),
                ("OATH".into(), "fail-locked".into())
            ],
            "{name}"
        );
        // A disabled user's credentials are `disabled`.
        let disabled = client
            .put(format!("{gw}/admin/realms/{TENANT}/users/{nina}"))
            .bearer_auth(&admin)
            .json(&json!({"enabled": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(disabled.status(), 204, "{name}");
        let (_, listing) = nevis(&client, &gw, &admin, &nina, "").await;
        assert_eq!(listing["items"][1]["stateName"], "disabled", "{name}");

        platform.stop().await;
    }
}
