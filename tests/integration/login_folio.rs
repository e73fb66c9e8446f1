//! FOLIO's `/authn` API (mod-login-keycloak) through the gateway, on every backend: login and
//! its token cookies, refresh, logout, logout-all, the code exchange, self-update, credentials,
//! password history, reset actions (single use, expiring), login attempts and the event log
//! with its retention.

use crate::common;

use crate::common::{master_admin_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const TENANT: &str = "library";

/// One reply: status, headers, JSON body (null when none).
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    /// The `Set-Cookie` header of one cookie.
    fn set_cookie(&self, name: &str) -> String {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", self.headers))
    }

    /// The value a cookie was set to.
    fn cookie(&self, name: &str) -> String {
        let header = self.set_cookie(name);
        header[name.len() + 1..]
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    fn folio_code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or_default()
    }
}

/// A FOLIO client: every request carries `X-Okapi-Tenant` unless told otherwise.
struct Folio {
    client: reqwest::Client,
    gw: String,
}

#[derive(Default)]
struct Call<'a> {
    tenant: Option<&'a str>,
    token: Option<&'a str>,
    /// FOLIO's own token header, instead of `Authorization`.
    okapi_token: Option<&'a str>,
    refresh_cookie: Option<&'a str>,
    body: Option<Value>,
}

impl Folio {
    async fn send(&self, method: Method, path: &str, call: Call<'_>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.gw));
        if let Some(tenant) = call.tenant {
            request = request.header("x-okapi-tenant", tenant);
        }
        if let Some(token) = call.token {
            request = request.bearer_auth(token);
        }
        if let Some(token) = call.okapi_token {
            request = request.header("x-okapi-token", token);
        }
        if let Some(cookie) = call.refresh_cookie {
            request = request.header("cookie", format!("folioRefreshToken={cookie}"));
        }
        if let Some(body) = call.body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        let headers = reply.headers().clone();
        let bytes = reply.bytes().await.unwrap();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        let call = Call {
            tenant: Some(TENANT),
            body: Some(body),
            ..Call::default()
        };
        self.send(Method::POST, path, call).await
    }

    async fn admin(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        let call = Call {
            tenant: Some(TENANT),
            token: Some(token),
            body,
            ..Call::default()
        };
        self.send(method, path, call).await
    }

    async fn login(&self, username: &str, password: &str) -> Reply {
        self.post(
            "/authn/login",
            json!({"username": username, "password": password}),
        )
        .await
    }
}

/// Creates a tenant through Keycloak's admin API.
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

/// Creates a user through Keycloak's admin API; its id.
async fn create_user(client: &reqwest::Client, gw: &str, admin: &str, body: Value) -> String {
    let reply = client
        .post(format!("{gw}/admin/realms/{TENANT}/users"))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    location.rsplit('/').next().unwrap().to_owned()
}

fn user(name: &str, password: Option<&str>) -> Value {
    let mut body =
        json!({"username": name, "enabled": true, "email": format!("{name}@example.com")});
    if let Some(password) = password {
        body["credentials"] = json!([{"type": "password", "value": password, "temporary": false}]);
    }
    body
}

fn iso_in(ms_from_now: i64) -> String {
    svc_login::time::format_iso(idp_shared::names::now_millis() + ms_from_now)
}

#[actix_web::test]
async fn folio_login_refresh_and_logout() {
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
            json!({"realm": TENANT, "enabled": true, "passwordPolicy": "bcryptCost(4)"}),
        )
        .await;
        let alice = create_user(&client, &gw, &admin, user("alice", Some("alice-Pass-1"))).await;
        let folio = Folio {
            client: client.clone(),
            gw: gw.clone(),
        };

        // The tenant comes from X-Okapi-Tenant: missing is 400 in FOLIO's error shape.
        let body = json!({"username": "alice", "password": "alice-Pass-1"});
        let missing = folio
            .send(
                Method::POST,
                "/authn/login",
                Call {
                    body: Some(body.clone()),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(missing.status, 400, "{name}: {}", missing.body);
        assert_eq!(missing.folio_code(), "validation_error");
        assert!(
            missing.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("X-Okapi-Tenant")
        );
        assert_eq!(missing.body["total_records"], 1);
        let unknown = folio
            .send(
                Method::POST,
                "/authn/login",
                Call {
                    tenant: Some("no-such-tenant"),
                    body: Some(body.clone()),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(unknown.status, 404, "{name}: {}", unknown.body);
        let no_password = folio
            .post("/authn/login", json!({"username": "alice"}))
            .await;
        assert_eq!(no_password.status, 400, "{name}");

        // Wrong password and unknown user: one answer, word for word, naming nothing.
        let wrong = folio.login("alice", "not-her-password").await;
        let nobody = folio.login("nobody", "not-her-password").await;
        assert_eq!(
            (wrong.status, nobody.status),
            (422, 422),
            "{name}: {}",
            wrong.body
        );
        assert_eq!(wrong.body, nobody.body, "{name}");
        assert!(!wrong.body.to_string().contains("not-her-password"));

        // Login: tokens in the body, FOLIO's headers and both cookies.
        let login = folio.login("ALICE", "alice-Pass-1").await;
        assert_eq!(login.status, 201, "{name}: {}", login.body);
        let okapi_token = login.body["okapiToken"].as_str().unwrap().to_owned();
        assert_eq!(
            login.headers["x-okapi-token"].to_str().unwrap(),
            okapi_token
        );
        assert_eq!(login.cookie("folioAccessToken"), okapi_token);
        assert_eq!(
            login.cookie("folioRefreshToken"),
            login.body["refreshToken"].as_str().unwrap()
        );
        // The token is a bearer the gateway accepts: svc-users then refuses a non-admin (403,
        // not the gateway's 401).
        let as_alice = client
            .get(format!("{gw}/admin/realms/{TENANT}/users/{alice}"))
            .bearer_auth(&okapi_token)
            .send()
            .await
            .unwrap();
        assert_eq!(as_alice.status(), 403, "{name}");
        // An administrator's FOLIO login token administers through the gateway.
        let master_login = folio
            .send(
                Method::POST,
                "/authn/login",
                Call {
                    tenant: Some("master"),
                    body: Some(json!({"username": common::ADMIN_USERNAME,
                        "password": common::ADMIN_PASSWORD})),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(master_login.status, 201, "{name}: {}", master_login.body);
        let listed = client
            .get(format!("{gw}/admin/realms/{TENANT}/users/{alice}"))
            .bearer_auth(master_login.body["okapiToken"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200, "{name}");
        // By user id too.
        let by_id = folio
            .post(
                "/authn/login",
                json!({"userId": alice, "password": "alice-Pass-1"}),
            )
            .await;
        assert_eq!(by_id.status, 201, "{name}: {}", by_id.body);

        // Login with expiry: ISO-8601 expirations; the tokens only in the cookies.
        let expiring = folio
            .post(
                "/authn/login-with-expiry",
                json!({"username": "alice", "password": "alice-Pass-1"}),
            )
            .await;
        assert_eq!(expiring.status, 201, "{name}: {}", expiring.body);
        let now = idp_shared::names::now_millis();
        let access_exp =
            svc_login::time::parse_iso(expiring.body["accessTokenExpiration"].as_str().unwrap())
                .unwrap();
        let refresh_exp =
            svc_login::time::parse_iso(expiring.body["refreshTokenExpiration"].as_str().unwrap())
                .unwrap();
        assert!(
            (now + 200_000..now + 400_000).contains(&access_exp),
            "{name}: 300 s"
        );
        assert!(refresh_exp > access_exp);
        assert!(expiring.body.get("okapiToken").is_none());
        let access_cookie = expiring.set_cookie("folioAccessToken");
        let refresh_cookie = expiring.set_cookie("folioRefreshToken");
        for part in ["HttpOnly", "Secure", "SameSite=None", "Max-Age="] {
            assert!(access_cookie.contains(part), "{name}: {access_cookie}");
            assert!(refresh_cookie.contains(part), "{name}: {refresh_cookie}");
        }
        assert!(access_cookie.contains("Path=/;") || access_cookie.ends_with("Path=/"));
        assert!(refresh_cookie.contains("Path=/authn"), "{refresh_cookie}");

        // Refresh: the cookie rotates; the spent one and a forged one are refused (422).
        let refresh = |cookie: Option<String>| {
            let folio = &folio;
            async move {
                folio
                    .send(
                        Method::POST,
                        "/authn/refresh",
                        Call {
                            tenant: Some(TENANT),
                            refresh_cookie: cookie.as_deref(),
                            ..Call::default()
                        },
                    )
                    .await
            }
        };
        let no_cookie = refresh(None).await;
        assert_eq!(
            (no_cookie.status, no_cookie.folio_code()),
            (400, "validation_error")
        );
        let first = expiring.cookie("folioRefreshToken");
        let rotated = refresh(Some(first.clone())).await;
        assert_eq!(rotated.status, 201, "{name}: {}", rotated.body);
        assert!(rotated.body["accessTokenExpiration"].is_string());
        let second = rotated.cookie("folioRefreshToken");
        assert_ne!(second, first);
        let spent = refresh(Some(first)).await;
        assert_eq!(spent.status, 422, "{name}: {}", spent.body);
        assert_eq!(spent.folio_code(), "token.refresh.unprocessable");
        assert_eq!(refresh(Some("forged.token.value".into())).await.status, 422);

        // Logout ends the session of the cookie and clears both cookies.
        let logout = folio
            .send(
                Method::POST,
                "/authn/logout",
                Call {
                    tenant: Some(TENANT),
                    refresh_cookie: Some(&second),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(logout.status, 204, "{name}: {}", logout.body);
        assert!(logout.set_cookie("folioAccessToken").contains("Max-Age=0"));
        assert!(logout.set_cookie("folioRefreshToken").contains("Max-Age=0"));
        assert_eq!(
            refresh(Some(second)).await.status,
            422,
            "{name}: ended session"
        );
        let bare_logout = folio
            .send(
                Method::POST,
                "/authn/logout",
                Call {
                    tenant: Some(TENANT),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(bare_logout.status, 400, "{name}: neither cookie nor token");

        // Logout-all ends every session of the caller's user: both refresh tokens and the
        // access token die.
        let one = folio.login("alice", "alice-Pass-1").await;
        let two = folio.login("alice", "alice-Pass-1").await;
        let unauthenticated = folio
            .send(
                Method::POST,
                "/authn/logout-all",
                Call {
                    tenant: Some(TENANT),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(unauthenticated.status, 401, "{name}");
        let forged = folio
            .send(
                Method::POST,
                "/authn/logout-all",
                Call {
                    tenant: Some(TENANT),
                    okapi_token: Some("not.a.token"),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(forged.status, 401, "{name}: {}", forged.body);
        // FOLIO's X-Okapi-Token header carries the token as well as Authorization does.
        let token_one = one.body["okapiToken"].as_str().unwrap().to_owned();
        let all = folio
            .send(
                Method::POST,
                "/authn/logout-all",
                Call {
                    tenant: Some(TENANT),
                    okapi_token: Some(&token_one),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(all.status, 204, "{name}: {}", all.body);
        assert!(all.set_cookie("folioRefreshToken").contains("Max-Age=0"));
        for session in [&one, &two] {
            let cookie = session.body["refreshToken"].as_str().unwrap().to_owned();
            assert_eq!(refresh(Some(cookie)).await.status, 422, "{name}");
        }
        let revoked = client
            .get(format!("{gw}/admin/realms/{TENANT}/users/{alice}"))
            .bearer_auth(&token_one)
            .send()
            .await
            .unwrap();
        assert_eq!(
            revoked.status(),
            401,
            "{name}: the ended session's token is refused"
        );

        // The code exchange: parameters required; no code is valid yet (FOLIO's answer).
        let token_call = |query: &'static str| {
            let folio = &folio;
            async move {
                folio
                    .send(
                        Method::GET,
                        &format!("/authn/token{query}"),
                        Call {
                            tenant: Some(TENANT),
                            ..Call::default()
                        },
                    )
                    .await
            }
        };
        let no_code = token_call("?redirect-uri=https%3A%2F%2Fapp").await;
        assert_eq!(
            (no_code.status, no_code.folio_code()),
            (400, "validation_error")
        );
        let bad_code = token_call("?code=abc&redirect-uri=https%3A%2F%2Fapp").await;
        assert_eq!(
            (bad_code.status, bad_code.folio_code()),
            (400, "service_error"),
            "{name}"
        );
        assert!(
            bad_code
                .set_cookie("folioAccessToken")
                .contains("Max-Age=0")
        );

        platform.stop().await;
    }
}

#[actix_web::test]
async fn folio_credentials_resets_attempts_and_events() {
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
            json!({"realm": TENANT, "enabled": true, "eventsExpiration": 3600,
                   "bruteForceProtected": true, "quickLoginCheckMilliSeconds": 0,
                   "passwordPolicy": "length(8) and passwordHistory(2) and bcryptCost(4)"}),
        )
        .await;
        let alice = create_user(&client, &gw, &admin, user("alice", Some("alice-Pass-1"))).await;
        let bob = create_user(&client, &gw, &admin, user("bob", None)).await;
        let folio = Folio {
            client: client.clone(),
            gw: gw.clone(),
        };
        let alice_token = {
            let login = folio.login("alice", "alice-Pass-1").await;
            assert_eq!(login.status, 201, "{name}: {}", login.body);
            login.body["okapiToken"].as_str().unwrap().to_owned()
        };

        // Self-update checks the current password (one answer for wrong and unknown), then
        // the policy and the history.
        let update = |body: Value| folio.post("/authn/update", body);
        let wrong = update(json!({"username": "alice", "password": "guess-guess",
            "newPassword": "alice-Pass-2"}))
        .await;
        let unknown = update(json!({"username": "nobody", "password": "guess-guess",
            "newPassword": "alice-Pass-2"}))
        .await;
        assert_eq!(
            (wrong.status, unknown.status),
            (422, 422),
            "{name}: {}",
            wrong.body
        );
        assert_eq!(wrong.body, unknown.body);
        let short = update(json!({"username": "alice", "password": "alice-Pass-1",
            "newPassword": "short"}))
        .await;
        assert_eq!(
            (short.status, short.folio_code()),
            (400, "password.policy"),
            "{name}"
        );
        assert_eq!(
            folio.login("alice", "alice-Pass-1").await.status,
            201,
            "unchanged"
        );
        let same = update(json!({"username": "alice", "password": "alice-Pass-1",
            "newPassword": "alice-Pass-1"}))
        .await;
        assert_eq!(
            same.status, 400,
            "{name}: the history refuses the current password"
        );
        let changed = update(json!({"username": "alice", "userId": alice,
            "password": "alice-Pass-1", "newPassword": "alice-Pass-2"}))
        .await;
        assert_eq!(changed.status, 204, "{name}: {}", changed.body);
        assert_eq!(
            folio.login("alice", "alice-Pass-1").await.status,
            422,
            "{name}"
        );
        assert_eq!(
            folio.login("alice", "alice-Pass-2").await.status,
            201,
            "{name}"
        );

        // Password repeatability follows the tenant's real history (2 passwords).
        let repeatable = |token: &str, password: &str| {
            let (folio, token, body) = (
                &folio,
                token.to_owned(),
                json!({"userId": alice, "password": password}),
            );
            async move {
                folio
                    .admin(
                        Method::POST,
                        "/authn/password/repeatable",
                        &token,
                        Some(body),
                    )
                    .await
            }
        };
        let old = repeatable(&alice_token, "alice-Pass-1").await;
        assert_eq!(
            (old.status, old.body["result"].as_str()),
            (200, Some("invalid")),
            "{name}: {}",
            old.body
        );
        let current = repeatable(&admin, "alice-Pass-2").await;
        assert_eq!(current.body["result"], "invalid", "{name}");
        let fresh = repeatable(&admin, "never-used-1").await;
        assert_eq!(fresh.body["result"], "valid", "{name}");

        // Credentials: administrators only; one password per user.
        let create = |token: &str, body: Value| {
            let (folio, token) = (&folio, token.to_owned());
            async move {
                folio
                    .admin(Method::POST, "/authn/credentials", &token, Some(body))
                    .await
            }
        };
        let bob_password = json!({"userId": bob, "password": "bob-Pass-01"});
        let anonymous = folio.post("/authn/credentials", bob_password.clone()).await;
        assert_eq!(anonymous.status, 401, "{name}");
        assert_eq!(
            create(&alice_token, bob_password.clone()).await.status,
            403,
            "{name}"
        );
        let created = create(&admin, bob_password.clone()).await;
        assert_eq!(created.status, 201, "{name}: {}", created.body);
        let again = create(&admin, bob_password.clone()).await;
        assert_eq!(
            (again.status, again.folio_code()),
            (400, "found_error"),
            "{name}"
        );
        assert_eq!(
            folio.login("bob", "bob-Pass-01").await.status,
            201,
            "{name}"
        );
        let exists = |user_id: &str| {
            let (folio, admin, path) = (
                &folio,
                admin.clone(),
                format!("/authn/credentials-existence?userId={user_id}"),
            );
            async move { folio.admin(Method::GET, &path, &admin, None).await }
        };
        assert_eq!(
            exists(&bob).await.body,
            json!({"credentialsExist": true}),
            "{name}"
        );
        assert_eq!(
            exists("no-such-user").await.body,
            json!({"credentialsExist": false})
        );
        let delete = |query: String| {
            let (folio, admin) = (&folio, admin.clone());
            async move {
                folio
                    .admin(
                        Method::DELETE,
                        &format!("/authn/credentials{query}"),
                        &admin,
                        None,
                    )
                    .await
            }
        };
        assert_eq!(
            delete(String::new()).await.status,
            400,
            "{name}: userId required"
        );
        assert_eq!(delete(format!("?userId={bob}")).await.status, 204, "{name}");
        assert_eq!(delete(format!("?userId={bob}")).await.status, 404, "{name}");
        assert_eq!(exists(&bob).await.body["credentialsExist"], false);
        assert_eq!(
            folio.login("bob", "bob-Pass-01").await.status,
            422,
            "{name}"
        );

        // Reset actions: created by an administrator, single use, stored hashed.
        let action_id = idp_shared::security::random_token(16);
        let action = |id: &str, user_id: &str, expires: String| json!({"id": id, "userId": user_id, "expirationTime": expires});
        let new_action = |body: Value| {
            let (folio, admin) = (&folio, admin.clone());
            async move {
                folio
                    .admin(
                        Method::POST,
                        "/authn/password-reset-action",
                        &admin,
                        Some(body),
                    )
                    .await
            }
        };
        let refused = folio
            .admin(
                Method::POST,
                "/authn/password-reset-action",
                &alice_token,
                Some(action(&action_id, &alice, iso_in(3_600_000))),
            )
            .await;
        assert_eq!(refused.status, 403, "{name}");
        assert_eq!(
            new_action(action(&action_id, &alice, "tomorrow".into()))
                .await
                .status,
            400
        );
        assert_eq!(
            new_action(action(&action_id, &alice, iso_in(-1_000)))
                .await
                .status,
            400
        );
        assert_eq!(
            new_action(action(&action_id, "no-such-user", iso_in(3_600_000)))
                .await
                .status,
            404
        );
        let made = new_action(action(&action_id, &alice, iso_in(3_600_000))).await;
        assert_eq!(
            (made.status, &made.body),
            (201, &json!({"passwordExists": true})),
            "{name}"
        );
        let taken = new_action(action(&action_id, &alice, iso_in(3_600_000))).await;
        assert_eq!(
            (taken.status, taken.folio_code()),
            (400, "found_error"),
            "{name}"
        );
        let get_action = |id: String| {
            let (folio, admin) = (&folio, admin.clone());
            async move {
                folio
                    .admin(
                        Method::GET,
                        &format!("/authn/password-reset-action/{id}"),
                        &admin,
                        None,
                    )
                    .await
            }
        };
        let got = get_action(action_id.clone()).await;
        assert_eq!(got.status, 200, "{name}: {}", got.body);
        assert_eq!(
            (got.body["id"].as_str(), got.body["userId"].as_str()),
            (Some(action_id.as_str()), Some(alice.as_str()))
        );
        assert!(svc_login::time::parse_iso(got.body["expirationTime"].as_str().unwrap()).is_some());
        let login_before_reset = folio.login("alice", "alice-Pass-2").await;
        let reset = |id: &str, password: &str| {
            folio.post(
                "/authn/reset-password",
                json!({"passwordResetActionId": id, "newPassword": password}),
            )
        };
        // A password the policy refuses leaves the action unspent.
        let weak = reset(&action_id, "short").await;
        assert_eq!(weak.status, 400, "{name}: {}", weak.body);
        assert_eq!(
            get_action(action_id.clone()).await.status,
            200,
            "{name}: still usable"
        );
        let done = reset(&action_id, "alice-Pass-3").await;
        assert_eq!(
            (done.status, &done.body),
            (201, &json!({"isNewPassword": false})),
            "{name}"
        );
        assert_eq!(
            reset(&action_id, "alice-Pass-4").await.status,
            404,
            "{name}: single use"
        );
        assert_eq!(get_action(action_id.clone()).await.status, 404, "{name}");
        // The reset ended the sessions that existed before it (the earlier token included).
        let alice_token = {
            let login = folio.login("alice", "alice-Pass-3").await;
            assert_eq!(login.status, 201, "{name}: {}", login.body);
            login.body["okapiToken"].as_str().unwrap().to_owned()
        };
        let before = login_before_reset.body["refreshToken"].as_str().unwrap();
        let refreshed = folio
            .send(
                Method::POST,
                "/authn/refresh",
                Call {
                    tenant: Some(TENANT),
                    refresh_cookie: Some(before),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(refreshed.status, 422, "{name}");
        // An action for a user without a password; it expires unused.
        let bobs = idp_shared::security::random_token(16);
        let made = new_action(action(&bobs, &bob, iso_in(1_500))).await;
        assert_eq!(made.body, json!({"passwordExists": false}), "{name}");
        tokio::time::sleep(std::time::Duration::from_millis(1_700)).await;
        assert_eq!(
            reset(&bobs, "bob-Pass-02").await.status,
            404,
            "{name}: expired"
        );
        let bobs = idp_shared::security::random_token(16);
        new_action(action(&bobs, &bob, iso_in(3_600_000))).await;
        let first = reset(&bobs, "bob-Pass-02").await;
        assert_eq!(first.body, json!({"isNewPassword": true}), "{name}");

        // Login attempts: the failures the lockout counts.
        for _ in 0..2 {
            assert_eq!(folio.login("alice", "wrong-wrong").await.status, 422);
        }
        let attempts = folio
            .admin(
                Method::GET,
                &format!("/authn/loginAttempts/{alice}"),
                &alice_token,
                None,
            )
            .await;
        assert_eq!(attempts.status, 200, "{name}: {}", attempts.body);
        assert_eq!(attempts.body["userId"], alice.as_str());
        assert_eq!(
            attempts.body["attemptCount"], 2,
            "{name}: {}",
            attempts.body
        );
        assert!(
            svc_login::time::parse_iso(attempts.body["lastAttempt"].as_str().unwrap()).is_some()
        );
        let others = folio
            .admin(
                Method::GET,
                &format!("/authn/loginAttempts/{bob}"),
                &alice_token,
                None,
            )
            .await;
        assert_eq!(others.status, 403, "{name}: another user's attempts");
        let nobody = folio
            .admin(
                Method::GET,
                "/authn/loginAttempts/no-such-user",
                &admin,
                None,
            )
            .await;
        assert_eq!(nobody.status, 404, "{name}");

        // The event log: filtered, paged newest first, totalRecords counts every match.
        let events = |query: &str| {
            let (folio, admin, path) = (&folio, admin.clone(), format!("/authn/log/events{query}"));
            async move { folio.admin(Method::GET, &path, &admin, None).await }
        };
        let failed = events(&format!(
            "?query=eventType%3D%3DFAILED_LOGIN_ATTEMPT%20and%20userId%3D%3D{alice}"
        ))
        .await;
        assert_eq!(failed.status, 200, "{name}: {}", failed.body);
        // Two now, one wrong current password, one for the old password after the change.
        assert_eq!(failed.body["totalRecords"], 4, "{name}: {}", failed.body);
        for event in failed.body["loggingEvent"].as_array().unwrap() {
            assert_eq!(event["eventType"], "FAILED_LOGIN_ATTEMPT");
            assert_eq!(event["userId"], alice.as_str());
            assert_eq!(event["tenant"], TENANT);
            assert!(svc_login::time::parse_iso(event["timestamp"].as_str().unwrap()).is_some());
        }
        let page = events(&format!("?query=userId%3D%3D{alice}&start=2&length=3")).await;
        let all = events(&format!("?query=userId%3D%3D{alice}&length=100")).await;
        assert_eq!(
            page.body["loggingEvent"].as_array().unwrap().len(),
            3,
            "{name}"
        );
        assert_eq!(page.body["totalRecords"], all.body["totalRecords"]);
        assert_eq!(
            page.body["loggingEvent"][0], all.body["loggingEvent"][1],
            "{name}: 1-based start"
        );
        let changes = events("?query=eventType%3D%3DPASSWORD_RESET").await;
        assert_eq!(changes.body["totalRecords"], 2, "{name}: {}", changes.body);
        assert_eq!(events("?query=ip%3D%3Dx").await.status, 400, "{name}");
        assert_eq!(events("?start=0").await.status, 400, "{name}");
        assert_eq!(events("?length=abc").await.status, 400, "{name}");
        let as_user = folio
            .admin(Method::GET, "/authn/log/events", &alice_token, None)
            .await;
        assert_eq!(as_user.status, 403, "{name}");

        // Events posted by other modules; an old one goes with the retention purge.
        let old_event = idp_shared::security::random_token(16);
        let post_event = |body: Value| {
            let (folio, admin) = (&folio, admin.clone());
            async move {
                folio
                    .admin(Method::POST, "/authn/log/events", &admin, Some(body))
                    .await
            }
        };
        let event = json!({"id": old_event, "eventType": "USER_BLOCK", "tenant": TENANT,
            "userId": bob, "ip": "10.1.2.3", "browserInformation": "curl",
            "timestamp": iso_in(-7_200_000)});
        let saved = post_event(event.clone()).await;
        assert_eq!(saved.status, 201, "{name}: {}", saved.body);
        assert!(saved.body["message"].as_str().unwrap().contains(&old_event));
        assert_eq!(
            post_event(event.clone()).await.status,
            400,
            "{name}: id taken"
        );
        let mut other_tenant = event.clone();
        other_tenant["tenant"] = json!("master");
        other_tenant["id"] = json!("x");
        assert_eq!(post_event(other_tenant).await.status, 400, "{name}");
        let mut bad_type = event.clone();
        bad_type["eventType"] = json!("HACKED");
        bad_type["id"] = json!("y");
        assert_eq!(post_event(bad_type).await.status, 400, "{name}");
        let recent_event = post_event(json!({"eventType": "PASSWORD_CHANGE", "tenant": TENANT,
            "userId": bob}))
        .await;
        assert_eq!(recent_event.status, 201, "{name}");
        let bobs_events = format!("?query=userId%3D%3D{bob}&length=100");
        let listed = events(&bobs_events).await;
        let kinds: Vec<&str> = listed.body["loggingEvent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventType"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"USER_BLOCK") && kinds.contains(&"PASSWORD_CHANGE"),
            "{kinds:?}"
        );
        let svc = service(&platform, ServiceKind::Login);
        let token = env.settings().security.service_token.unwrap();
        let purged: Value = client
            .post(format!("{}/internal/realms/{TENANT}/events/purge", svc.url))
            .header(SERVICE_TOKEN_HEADER, token.expose())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            purged["deleted"], 1,
            "{name}: only the event past eventsExpiration"
        );
        let after = events(&bobs_events).await;
        assert_eq!(
            after.body["totalRecords"].as_i64().unwrap(),
            listed.body["totalRecords"].as_i64().unwrap() - 1,
            "{name}"
        );
        let delete_event = |id: String| {
            let (folio, admin) = (&folio, admin.clone());
            async move {
                folio
                    .admin(
                        Method::DELETE,
                        &format!("/authn/log/events/{id}"),
                        &admin,
                        None,
                    )
                    .await
            }
        };
        let newest = after.body["loggingEvent"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(delete_event(newest.clone()).await.status, 204, "{name}");
        assert_eq!(delete_event(newest).await.status, 404, "{name}");
        assert_eq!(delete_event(old_event).await.status, 404, "{name}: purged");

        platform.stop().await;
    }
}
