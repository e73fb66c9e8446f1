//! What the hosted pages ask after the password, through the gateway on every backend, driven
//! as a browser would: UPDATE_PASSWORD (a temporary password; the realm's policy applies),
//! CONFIGURE_TOTP (the code checked, the authenticator then required at every sign-in),
//! VERIFY_EMAIL (the mail queued with its link), and the forgotten-password flow by the
//! mailed link (read from svc-tenants' outbox), which works once and ends every session.

use std::collections::HashMap;

use crate::common::{master_admin_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::{Response, Url};
use serde_json::{Value, json};
use totp_rs::{Algorithm, Builder, Secret};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SPA: &str = "https://spa.example/callback";

/// A browser: cookies kept (by name; the tests' cookies all live under one path), redirects
/// not followed.
struct Browser {
    client: reqwest::Client,
    jar: HashMap<String, String>,
    oidc: String,
}

impl Browser {
    fn new(gw: &str) -> Browser {
        Browser {
            client: http(),
            jar: HashMap::new(),
            oidc: format!("{gw}/realms/acme/protocol/openid-connect"),
        }
    }

    fn keep(&mut self, reply: &Response) {
        for set in reply.headers().get_all("set-cookie") {
            let text = set.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&mut self, url: &str) -> (u16, String, Option<String>) {
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let reply = self
            .client
            .get(url)
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .unwrap();
        self.keep(&reply);
        let location = reply
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (
            reply.status().as_u16(),
            reply.text().await.unwrap(),
            location,
        )
    }

    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let reply = self
            .client
            .post(url)
            .header("cookie", cookies.join("; "))
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&reply);
        let location = reply
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (
            reply.status().as_u16(),
            reply.text().await.unwrap(),
            location,
        )
    }

    /// The login page of a new authorization request (prompt=login: never SSO).
    async fn login_page(&mut self) -> String {
        let url = format!(
            "{}/auth?client_id=spa&redirect_uri={}&response_type=code&scope=openid&state=s&\
             code_challenge={CHALLENGE}&code_challenge_method=S256&prompt=login",
            self.oidc, "https%3A%2F%2Fspa.example%2Fcallback"
        );
        let (status, page, _) = self.get(&url).await;
        assert_eq!(status, 200, "{page}");
        page
    }

    /// Posts a form of `page` with its attempt and CSRF token and `fields`.
    async fn submit(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let (attempt, csrf) = (hidden(page, "attempt"), hidden(page, "csrf_token"));
        let mut form = vec![("attempt", attempt.as_str()), ("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        let url = format!("{}/login-actions/{action}", self.oidc);
        self.post(&url, &form).await
    }
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The code of a redirect to the app.
fn code_of(location: &Option<String>) -> String {
    let url = Url::parse(location.as_deref().expect("a redirect")).unwrap();
    assert!(url.as_str().starts_with(SPA), "{url}");
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .expect("a code")
        .1
        .into_owned()
}

fn totp(secret: &str, now: u64) -> String {
    let seed = Secret::try_from_base32(secret.replace(' ', "")).unwrap();
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(seed)
        .build()
        .unwrap();
    totp.generate(now).to_string()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `link` parameter of the newest mail of a template queued for `to` (svc-tenants'
/// outbox; sealed while it waits for an SMTP server).
async fn mailed_link(platform: &idp::Platform, template: &str, to: &str) -> Option<String> {
    let tenants = service(platform, ServiceKind::Tenants);
    let db = tenants.ctx.db.clone();
    let rows = db
        .run(|conn| {
            let tenant = svc_tenants::store::find_by_name(conn, "acme")?.expect("acme");
            svc_tenants::store::mail::tenant_mails(conn, &tenant.row.id)
        })
        .await
        .unwrap();
    let secrets = idp_shared::security::SecretBox::from_settings(&tenants.ctx.settings).unwrap();
    rows.iter()
        .filter(|r| r.template == template && r.recipient == to)
        .max_by_key(|r| r.created_at)
        .and_then(|r| {
            let sealed = r.params_sealed.as_deref()?;
            let plain = secrets
                .open(sealed, &svc_tenants::mail::params_context(&r.id))
                .ok()?;
            let params: Value = serde_json::from_slice(&plain).ok()?;
            params["link"].as_str().map(str::to_owned)
        })
}

async fn seed(client: &reqwest::Client, gw: &str) {
    let admin = master_admin_token(client, gw).await;
    let user = |name: &str, extra: Value| {
        let mut body = json!({"username": name, "enabled": true, "email": format!("{name}@acme.example"),
                              "credentials": [{"type": "password", "value": format!("{name}-Initial-1"), "temporary": false}]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        (format!("{gw}/admin/realms/acme/users"), body)
    };
    for (url, body) in [
        (
            format!("{gw}/admin/realms"),
            json!({"realm": "acme", "enabled": true, "displayName": "Acme Corp",
                   "resetPasswordAllowed": true, "passwordPolicy": "length(10)"}),
        ),
        (
            format!("{gw}/admin/realms/acme/clients"),
            json!({"clientId": "spa", "publicClient": true, "redirectUris": [SPA]}),
        ),
        user(
            "tess",
            json!({"credentials": [{"type": "password", "value": "tess-Temporary-1", "temporary": true}]}),
        ),
        user("otto", json!({"requiredActions": ["CONFIGURE_TOTP"]})),
        user("vera", json!({"requiredActions": ["VERIFY_EMAIL"]})),
        user("upton", json!({"requiredActions": ["UPDATE_PROFILE"]})),
        user("remy", json!({})),
    ] {
        let reply = client
            .post(url)
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
    }
}

#[actix_web::test]
async fn required_actions_run_before_the_app_gets_its_code() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        seed(&http(), &gw).await;

        // A temporary password: a new one first, the realm's policy and a confirmation apply.
        let mut browser = Browser::new(&gw);
        let page = browser.login_page().await;
        let (status, update, _) = browser
            .submit(
                &page,
                "authenticate",
                &[("username", "tess"), ("password", "tess-Temporary-1")],
            )
            .await;
        assert_eq!(status, 200, "{name}: {update}");
        assert!(
            update.contains("Update password") && update.contains("<label for=\"password-new\">"),
            "{update}"
        );
        for (new, confirm, message) in [
            ("short", "short", "Invalid password"),
            (
                "tess-Changed-1",
                "tess-Changed-2",
                "Passwords don&#39;t match.",
            ),
        ] {
            let (status, again, location) = browser
                .submit(
                    &update,
                    "required-action",
                    &[
                        ("action", "UPDATE_PASSWORD"),
                        ("password-new", new),
                        ("password-confirm", confirm),
                    ],
                )
                .await;
            assert_eq!((status, location), (400, None), "{name}: {message}");
            assert!(again.contains(message), "{name}: {again}");
        }
        let forged = browser
            .post(
                &format!("{}/login-actions/required-action", browser.oidc),
                &[
                    ("attempt", &hidden(&update, "attempt")),
                    ("csrf_token", "forged"),
                    ("action", "UPDATE_PASSWORD"),
                    ("password-new", "tess-Forged-1"),
                    ("password-confirm", "tess-Forged-1"),
                ],
            )
            .await;
        assert_eq!(
            forged.0, 403,
            "{name}: a forged CSRF token changes no password"
        );
        let (status, _, location) = browser
            .submit(
                &update,
                "required-action",
                &[
                    ("action", "UPDATE_PASSWORD"),
                    ("password-new", "tess-Changed-1"),
                    ("password-confirm", "tess-Changed-1"),
                ],
            )
            .await;
        assert_eq!(status, 302, "{name}");
        code_of(&location);
        let page = browser.login_page().await;
        let (status, _, location) = browser
            .submit(
                &page,
                "authenticate",
                &[("username", "tess"), ("password", "tess-Changed-1")],
            )
            .await;
        assert_eq!(status, 302, "{name}: the new password, no more questions");
        code_of(&location);
        let page = browser.login_page().await;
        let (status, _, _) = browser
            .submit(
                &page,
                "authenticate",
                &[("username", "tess"), ("password", "tess-Forged-1")],
            )
            .await;
        assert_eq!(status, 400, "{name}: the forged post set nothing");

        // CONFIGURE_TOTP: the seed shown, a wrong code refused, the right one stores it.
        let mut browser = Browser::new(&gw);
        let page = browser.login_page().await;
        let (status, setup, _) = browser
            .submit(
                &page,
                "authenticate",
                &[("username", "otto"), ("password", "otto-Initial-1")],
            )
            .await;
        assert_eq!(status, 200, "{name}: {setup}");
        let secret = setup
            .split("id=\"totp-secret\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        assert!(setup.contains("otpauth://totp/"), "{name}");
        let (status, again, _) = browser
            .submit(
                &setup,
                "required-action",
                &[("action", "CONFIGURE_TOTP"), ("totp", "000000")],
            )
            .await;
        assert_eq!(status, 400, "{name}");
        assert!(again.contains("Invalid authenticator code."));
        let (status, _, location) = browser
            .submit(
                &setup,
                "required-action",
                &[
                    ("action", "CONFIGURE_TOTP"),
                    ("totp", &totp(&secret, now_secs())),
                    ("userLabel", "phone"),
                ],
            )
            .await;
        assert_eq!(status, 302, "{name}");
        code_of(&location);
        // From now on the password alone is not enough; with the code it is.
        let page = browser.login_page().await;
        let (status, _, _) = browser
            .submit(
                &page,
                "authenticate",
                &[("username", "otto"), ("password", "otto-Initial-1")],
            )
            .await;
        assert_eq!(status, 400, "{name}: the authenticator is required");
        let code = totp(&secret, now_secs() + 30);
        let (status, _, location) = browser
            .submit(
                &page,
                "authenticate",
                &[
                    ("username", "otto"),
                    ("password", "otto-Initial-1"),
                    ("otp", &code),
                ],
            )
            .await;
        assert_eq!(status, 302, "{name}: password and code");
        code_of(&location);

        // VERIFY_EMAIL: a mail with a link is queued; the page waits for it.
        let mut browser = Browser::new(&gw);
        let page = browser.login_page().await;
        let (status, verify, _) = browser
            .submit(
                &page,
                "authenticate",
                &[("username", "vera"), ("password", "vera-Initial-1")],
            )
            .await;
        assert_eq!(status, 200, "{name}: {verify}");
        assert!(verify.contains("vera@acme.example"), "{name}: {verify}");
        let link = mailed_link(&platform, "VERIFY_EMAIL", "vera@acme.example")
            .await
            .expect("a verification mail");
        assert!(
            link.starts_with(&format!(
                "{gw}/realms/acme/protocol/openid-connect/login-actions/action-token?key="
            )),
            "{link}"
        );
        let (status, _, location) = browser
            .submit(&verify, "required-action", &[("action", "VERIFY_EMAIL")])
            .await;
        assert_eq!(
            (status, location),
            (400, None),
            "{name}: not verified yet, no code"
        );

        // An action these pages cannot do: a page saying so, no code.
        let mut browser = Browser::new(&gw);
        let page = browser.login_page().await;
        let (status, refused, location) = browser
            .submit(
                &page,
                "authenticate",
                &[("username", "upton"), ("password", "upton-Initial-1")],
            )
            .await;
        assert_eq!((status, location), (403, None), "{name}: {refused}");

        platform.stop().await;
    }
}

#[actix_web::test]
async fn a_forgotten_password_is_reset_by_a_link_that_works_once() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let api = http();
        seed(&api, &gw).await;
        // remy has a session elsewhere, which the reset will end.
        let other = api
            .post(format!("{gw}/realms/acme/protocol/openid-connect/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", "remy"),
                ("password", "remy-Initial-1"),
            ])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert!(other["refresh_token"].is_string(), "{name}: {other}");

        let mut browser = Browser::new(&gw);
        let page = browser.login_page().await;
        let reset_url = page
            .split("href=\"")
            .map(|s| s.split('"').next().unwrap())
            .find(|h| h.contains("reset-credentials"))
            .expect("a Forgot password? link")
            .replace("&amp;", "&");
        let (status, form, _) = browser.get(&format!("{gw}{reset_url}")).await;
        assert_eq!(status, 200, "{name}: {form}");
        // Known and unknown users get the same answer.
        for who in ["nobody@acme.example", "remy@acme.example"] {
            let (status, sent, _) = browser
                .submit(&form, "reset-credentials", &[("username", who)])
                .await;
            assert_eq!(status, 200, "{name}");
            assert!(
                sent.contains("You should receive an email shortly"),
                "{name}: {sent}"
            );
        }
        assert!(
            mailed_link(&platform, "FORGOT_PASSWORD", "nobody@acme.example")
                .await
                .is_none()
        );
        let link = mailed_link(&platform, "FORGOT_PASSWORD", "remy@acme.example")
            .await
            .expect("a reset mail");

        let (status, choose, _) = browser.get(&link).await;
        assert_eq!(status, 200, "{name}: {choose}");
        let action = format!("{}/login-actions/action-token", browser.oidc);
        let key = hidden(&choose, "key");
        let (status, refused, _) = browser
            .post(
                &action,
                &[
                    ("key", &key),
                    ("password-new", "short"),
                    ("password-confirm", "short"),
                ],
            )
            .await;
        assert_eq!(status, 400, "{name}: the policy applies");
        assert!(refused.contains("Invalid password"), "{name}: {refused}");
        let (status, back, _) = browser
            .post(
                &action,
                &[
                    ("key", &key),
                    ("password-new", "remy-Reset-pass-1"),
                    ("password-confirm", "remy-Reset-pass-1"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{name}: {back}");
        assert!(
            back.contains("Your password has been updated") && back.contains("name=\"password\""),
            "{name}: back to the login form"
        );
        let (status, _, _) = browser.get(&link).await;
        assert_eq!(status, 400, "{name}: the link works once");
        let status = api
            .post(format!("{gw}/realms/acme/protocol/openid-connect/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "admin-cli"),
                ("refresh_token", other["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 400, "{name}: the reset ended the other session");
        let (status, _, location) = browser
            .submit(
                &back,
                "authenticate",
                &[("username", "remy"), ("password", "remy-Reset-pass-1")],
            )
            .await;
        assert_eq!(status, 302, "{name}: signed in with the new password");
        code_of(&location);

        platform.stop().await;
    }
}

#[actix_web::test]
async fn a_magic_link_signs_a_user_in_once() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let api = http();
        seed(&api, &gw).await;
        let admin = master_admin_token(&api, &gw).await;
        let url = format!("{gw}/realms/acme/kobil-magic-link/access-link");
        let body = |email: &str, extra: Value| {
            let mut body = json!({"clientId": "spa", "email": email, "redirectUri": SPA,
                                  "responseType": "code", "scope": "openid",
                                  "codeChallenge": CHALLENGE, "codeChallengeMethod": "S256"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };

        // Only user administrators may send them; bad requests are refused before any mail.
        let anonymous = api
            .post(&url)
            .json(&body("remy@acme.example", json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{name}");
        for (why, bad, status) in [
            (
                "unregistered redirect",
                body(
                    "remy@acme.example",
                    json!({"redirectUri": "https://evil.example/"}),
                ),
                400,
            ),
            (
                "a public app without PKCE",
                body("remy@acme.example", json!({"codeChallenge": null})),
                400,
            ),
            (
                "only the code flow",
                body("remy@acme.example", json!({"responseType": "code token"})),
                400,
            ),
            ("unknown user", body("new@acme.example", json!({})), 404),
        ] {
            let reply = api
                .post(&url)
                .bearer_auth(&admin)
                .json(&bad)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), status, "{name}: {why}");
            let envelope: Value = reply.json().await.unwrap();
            assert_eq!(envelope["subSystem"], 5, "{name}: {why}: {envelope}");
        }
        assert!(
            mailed_link(&platform, "MAGIC_LINK", "remy@acme.example")
                .await
                .is_none()
        );

        // forceCreate makes the user; the link signs them in, once.
        let reply = api
            .post(&url)
            .bearer_auth(&admin)
            .json(&body(
                "new@acme.example",
                json!({"forceCreate": true, "state": "magic"}),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            200,
            "{name}: {}",
            reply.text().await.unwrap()
        );
        let link = mailed_link(&platform, "MAGIC_LINK", "new@acme.example")
            .await
            .expect("a magic link mail");
        let mut browser = Browser::new(&gw);
        let (status, _, location) = browser.get(&link).await;
        assert_eq!(status, 302, "{name}");
        assert!(
            location.as_deref().unwrap().contains("state=magic"),
            "{location:?}"
        );
        let code = code_of(&location);
        assert!(
            browser.jar.contains_key("KEYCLOAK_IDENTITY"),
            "{name}: the browser is signed in"
        );
        let tokens: Value = api
            .post(format!("{gw}/realms/acme/protocol/openid-connect/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", &code),
                ("redirect_uri", SPA),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                ),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let claims =
            svc_auth::routes::introspect::payload(tokens["access_token"].as_str().unwrap())
                .unwrap();
        assert_eq!(
            claims["preferred_username"], "new@acme.example",
            "{name}: {tokens}"
        );
        let (status, _, location) = Browser::new(&gw).get(&link).await;
        assert_eq!(
            (status, location),
            (400, None),
            "{name}: the link works once"
        );

        // resetPassword: a new password first, then the app.
        let reply = api
            .post(&url)
            .bearer_auth(&admin)
            .json(&body("remy@acme.example", json!({"resetPassword": true})))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{name}");
        let link = mailed_link(&platform, "MAGIC_LINK", "remy@acme.example")
            .await
            .unwrap();
        let mut browser = Browser::new(&gw);
        let (status, update, _) = browser.get(&link).await;
        assert_eq!(status, 200, "{name}: {update}");
        assert!(update.contains("Update password"), "{name}");
        let (status, _, location) = browser
            .submit(
                &update,
                "required-action",
                &[
                    ("action", "UPDATE_PASSWORD"),
                    ("password-new", "remy-Magic-pass-1"),
                    ("password-confirm", "remy-Magic-pass-1"),
                ],
            )
            .await;
        assert_eq!(status, 302, "{name}");
        code_of(&location);

        platform.stop().await;
    }
}
