//! The browser sign-in through the gateway, on every backend, driven as a browser would
//! (cookies kept, redirects not followed): the authorization request's checks, the tenant's
//! login page, CSRF, one message for every failure, lockout, the code exchange, single
//! sign-on for a second app, prompt=login and prompt=none, the response modes, and logout
//! ending the sign-in.

use std::collections::HashMap;

use crate::common::{master_admin_token, ready_platform};
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::{Response, Url};
use serde_json::{Value, json};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SPA: &str = "https://spa.example/callback";
const PORTAL: &str = "https://portal.example/signed-in";

/// A browser's cookies: what `Set-Cookie` gave, sent back on every request.
#[derive(Default, Clone)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn keep(&mut self, reply: &Response) {
        for set in reply.headers().get_all("set-cookie") {
            let text = set.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The `Set-Cookie` line of one cookie, to check its attributes.
fn set_cookie(reply: &Response, name: &str) -> Option<String> {
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The value of a hidden input of a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The parameters a redirect carries, from its query or fragment.
fn answer_params(reply: &Response) -> HashMap<String, String> {
    let location = reply.headers()["location"].to_str().unwrap();
    let url = Url::parse(location).unwrap();
    let mut params: HashMap<String, String> = url.query_pairs().into_owned().collect();
    if let Some(fragment) = url.fragment() {
        let fake = Url::parse(&format!("https://x/?{fragment}")).unwrap();
        params.extend(fake.query_pairs().into_owned());
    }
    params
}

fn is_page(reply: &Response) -> bool {
    reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html")
}

struct Browser {
    client: reqwest::Client,
    jar: Jar,
    gw: String,
}

impl Browser {
    async fn get(&mut self, url: &str) -> Response {
        let reply = self
            .client
            .get(url)
            .header("cookie", self.jar.header())
            .send()
            .await
            .unwrap();
        self.jar.keep(&reply);
        reply
    }

    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Response {
        let reply = self
            .client
            .post(url)
            .header("cookie", self.jar.header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.jar.keep(&reply);
        reply
    }

    fn auth_url(&self, client_id: &str, redirect: &str, extra: &[(&str, &str)]) -> String {
        let mut url = Url::parse(&format!(
            "{}/realms/acme/protocol/openid-connect/auth",
            self.gw
        ))
        .unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("state", "st-1")
            .append_pair("nonce", "n-1")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            url.query_pairs_mut().append_pair(k, v);
        }
        url.to_string()
    }

    /// Posts the login form of `page` (its attempt and CSRF token).
    async fn sign_in(&mut self, page: &str, username: &str, password: &str) -> Response {
        let action = format!(
            "{}/realms/acme/protocol/openid-connect/login-actions/authenticate",
            self.gw
        );
        let (attempt, csrf) = (hidden(page, "attempt"), hidden(page, "csrf_token"));
        self.post(
            &action,
            &[
                ("attempt", &attempt),
                ("csrf_token", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

async fn exchange(
    client: &reqwest::Client,
    gw: &str,
    client_id: &str,
    code: &str,
    redirect: &str,
) -> (u16, Value) {
    let reply = client
        .post(format!("{gw}/realms/acme/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

async fn refresh(client: &reqwest::Client, gw: &str, client_id: &str, token: &Value) -> u16 {
    client
        .post(format!("{gw}/realms/acme/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", token["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A realm "acme" (display name "Acme Corp", lockout after 3 failures) with two public
/// apps and users.
async fn seed(client: &reqwest::Client, gw: &str) {
    let admin = master_admin_token(client, gw).await;
    let realm = json!({
        "realm": "acme", "enabled": true, "displayName": "Acme Corp",
        "bruteForceProtected": true, "failureFactor": 3, "quickLoginCheckMilliSeconds": 0,
        "waitIncrementSeconds": 600, "maxFailureWaitSeconds": 900
    });
    let mut creations = vec![
        (format!("{gw}/admin/realms"), realm),
        (
            format!("{gw}/admin/realms/acme/clients"),
            json!({"clientId": "spa", "publicClient": true, "redirectUris": [SPA]}),
        ),
        (
            format!("{gw}/admin/realms/acme/clients"),
            json!({"clientId": "portal", "publicClient": true, "redirectUris": [PORTAL]}),
        ),
    ];
    for (username, password) in [("erin", "Erin-pass-1"), ("lou", "Lou-pass-1")] {
        creations.push((
            format!("{gw}/admin/realms/acme/users"),
            json!({"username": username, "enabled": true, "email": format!("{username}@acme.example"),
                   "credentials": [{"type": "password", "value": password, "temporary": false}]}),
        ));
    }
    for (url, body) in creations {
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
async fn a_browser_signs_in_once_for_two_apps_and_signs_out() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let api = http();
        seed(&api, &gw).await;
        let mut browser = Browser {
            client: http(),
            jar: Jar::default(),
            gw: gw.clone(),
        };

        // Before the redirect URI is trusted, every problem is a page, never a redirect.
        for (why, url) in [
            (
                "unregistered redirect URI",
                browser.auth_url("spa", "https://evil.example/cb", &[]),
            ),
            ("unknown client", browser.auth_url("nobody", SPA, &[])),
            (
                "a parameter twice",
                format!("{}&client_id=spa", browser.auth_url("spa", SPA, &[])),
            ),
        ] {
            let reply = browser.get(&url).await;
            assert_eq!(reply.status(), 400, "{name}: {why}");
            assert!(reply.headers().get("location").is_none(), "{name}: {why}");
            assert!(is_page(&reply), "{name}: {why}");
            assert!(
                reply.text().await.unwrap().contains("Acme Corp"),
                "{name}: {why}"
            );
        }
        // After it, errors go back to the app with its state.
        let no_pkce = format!(
            "{gw}/realms/acme/protocol/openid-connect/auth?client_id=spa&redirect_uri={}&response_type=code&state=s-2",
            urlencode(SPA)
        );
        for (why, url, error) in [
            (
                "PKCE is required for public clients",
                no_pkce,
                "invalid_request",
            ),
            (
                "plain is refused",
                browser.auth_url("spa", SPA, &[]).replace("S256", "plain"),
                "invalid_request",
            ),
            (
                "only code",
                browser
                    .auth_url("spa", SPA, &[])
                    .replace("response_type=code", "response_type=token"),
                "unsupported_response_type",
            ),
            (
                "prompt=none without a sign-in",
                browser.auth_url("spa", SPA, &[("prompt", "none")]),
                "login_required",
            ),
        ] {
            let reply = browser.get(&url).await;
            assert_eq!(reply.status(), 302, "{name}: {why}");
            let params = answer_params(&reply);
            assert_eq!(params["error"], error, "{name}: {why}");
            assert!(params["state"].starts_with("s"), "{name}: {why}");
            assert!(
                reply.headers()["location"]
                    .to_str()
                    .unwrap()
                    .starts_with(SPA),
                "{name}: {why}"
            );
        }

        // The login page: the tenant's name, labels, no external assets, its own CSP, the
        // attempt's cookie, and login_hint prefilled.
        let reply = browser
            .get(&browser.auth_url("spa", SPA, &[("login_hint", "erin")]))
            .await;
        assert_eq!(reply.status(), 200, "{name}");
        let csp = reply.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.starts_with("default-src 'none'"), "{name}: {csp}");
        assert!(
            csp.contains("form-action 'self' https://spa.example"),
            "{name}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{name}: {csp}");
        assert_eq!(reply.headers()["cache-control"], "no-store");
        let binding = set_cookie(&reply, "AUTH_SESSION_ID").expect("binding cookie");
        assert!(
            binding.contains("HttpOnly") && binding.contains("SameSite=Lax"),
            "{binding}"
        );
        assert!(
            binding.contains("Path=/realms/acme/") && !binding.contains("Secure"),
            "{binding}"
        );
        let page = reply.text().await.unwrap();
        assert!(
            page.contains("<title>Sign in · Acme Corp</title>"),
            "{name}: {page}"
        );
        assert!(
            page.contains("<label for=\"username\">") && page.contains("<label for=\"password\">")
        );
        assert!(
            page.contains("value=\"erin\""),
            "{name}: login_hint prefills the username"
        );
        assert!(
            !page.contains("src=") && !page.contains("href=\"http"),
            "{name}: no external assets"
        );

        // A forged CSRF token, or no cookie: refused before the password is looked at.
        let action = format!("{gw}/realms/acme/protocol/openid-connect/login-actions/authenticate");
        let attempt = hidden(&page, "attempt");
        let forged = browser
            .post(
                &action,
                &[
                    ("attempt", &attempt),
                    ("csrf_token", "forged"),
                    ("username", "erin"),
                    ("password", "Erin-pass-1"),
                ],
            )
            .await;
        assert_eq!(forged.status(), 403, "{name}: forged CSRF token");
        assert!(
            forged.headers().get("location").is_none()
                && set_cookie(&forged, "KEYCLOAK_IDENTITY").is_none()
        );
        let cookieless = http()
            .post(&action)
            .form(&[
                ("attempt", attempt.as_str()),
                ("csrf_token", &hidden(&page, "csrf_token")),
                ("username", "erin"),
                ("password", "Erin-pass-1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(cookieless.status(), 400, "{name}: another browser's post");

        // Wrong password and unknown user: the same page, one message.
        for (username, password) in [("erin", "wrong-pass"), ("nobody", "Erin-pass-1")] {
            let reply = browser.sign_in(&page, username, password).await;
            assert_eq!(reply.status(), 400, "{name}");
            assert!(reply.headers().get("location").is_none());
            let again = reply.text().await.unwrap();
            assert!(
                again.contains("Invalid username or password."),
                "{name}: {again}"
            );
            assert!(
                again.contains(&format!("value=\"{username}\"")),
                "{name}: the username stays"
            );
        }

        // The right password: a code for the app, and the browser's sign-in cookie.
        let reply = browser.sign_in(&page, "erin", "Erin-pass-1").await;
        assert_eq!(reply.status(), 302, "{name}: {:?}", reply.headers());
        let sso = set_cookie(&reply, "KEYCLOAK_IDENTITY").expect("SSO cookie");
        assert!(
            sso.contains("HttpOnly")
                && sso.contains("SameSite=Lax")
                && sso.contains("Path=/realms/acme/"),
            "{sso}"
        );
        let params = answer_params(&reply);
        assert_eq!(params["state"], "st-1");
        assert!(
            params["iss"].ends_with("/realms/acme"),
            "{name}: RFC 9207 iss"
        );
        // The attempt is spent: its form cannot sign in twice.
        let twice = browser.sign_in(&page, "erin", "Erin-pass-1").await;
        assert_eq!(twice.status(), 400, "{name}: a spent attempt");

        let (status, spa_tokens) = exchange(&api, &gw, "spa", &params["code"], SPA).await;
        assert_eq!(status, 200, "{name}: {spa_tokens}");
        let id = svc_auth::routes::introspect::payload(spa_tokens["id_token"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            (id["nonce"].as_str(), id["aud"].as_str()),
            (Some("n-1"), Some("spa"))
        );
        let (status, body) = exchange(&api, &gw, "spa", &params["code"], SPA).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{name}: a replayed code"
        );
        assert_eq!(
            refresh(&api, &gw, "spa", &spa_tokens).await,
            400,
            "{name}: the replay revoked its tokens"
        );

        // A second app: the sign-in stands in for the password; fragment mode as keycloak-js.
        let reply = browser
            .get(&browser.auth_url("spa", SPA, &[("response_mode", "fragment")]))
            .await;
        assert_eq!(reply.status(), 302, "{name}: SSO, no form");
        let (_, spa_tokens) = exchange(&api, &gw, "spa", &answer_params(&reply)["code"], SPA).await;
        let reply = browser
            .get(&browser.auth_url("portal", PORTAL, &[("response_mode", "fragment")]))
            .await;
        assert_eq!(reply.status(), 302, "{name}: SSO for the second app");
        let location = reply.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("{PORTAL}#code=")),
            "{name}: {location}"
        );
        let (status, portal_tokens) =
            exchange(&api, &gw, "portal", &answer_params(&reply)["code"], PORTAL).await;
        assert_eq!(status, 200, "{name}: {portal_tokens}");
        // A real code with a missing or wrong PKCE verifier is refused (and spent).
        for verifier in [None, Some("aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")] {
            let reply = browser.get(&browser.auth_url("portal", PORTAL, &[])).await;
            let code = answer_params(&reply)["code"].clone();
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("client_id", "portal"),
                ("code", code.as_str()),
                ("redirect_uri", PORTAL),
            ];
            form.extend(verifier.map(|v| ("code_verifier", v)));
            let refused = api
                .post(format!("{gw}/realms/acme/protocol/openid-connect/token"))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 400, "{name}: verifier {verifier:?}");
            let body: Value = refused.json().await.unwrap();
            assert_eq!(body["error"], "invalid_grant", "{name}");
            let (status, _) = exchange(&api, &gw, "portal", &code, PORTAL).await;
            assert_eq!(status, 400, "{name}: the refused code is spent");
        }

        // form_post: a page that posts the code to the app, allowed by its CSP.
        let reply = browser
            .get(&browser.auth_url("portal", PORTAL, &[("response_mode", "form_post")]))
            .await;
        assert_eq!(reply.status(), 200, "{name}");
        let csp = reply.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("form-action 'self' https://portal.example")
                && csp.contains("script-src 'nonce-"),
            "{csp}"
        );
        let posting = reply.text().await.unwrap();
        assert!(
            posting.contains(&format!("action=\"{PORTAL}\"")),
            "{name}: {posting}"
        );
        assert_eq!(hidden(&posting, "state"), "st-1");
        assert_eq!(
            exchange(&api, &gw, "portal", &hidden(&posting, "code"), PORTAL)
                .await
                .0,
            200
        );

        // prompt=login: the form despite the sign-in.
        let reply = browser
            .get(&browser.auth_url("spa", SPA, &[("prompt", "login")]))
            .await;
        assert_eq!(reply.status(), 200, "{name}: prompt=login shows the form");
        assert!(reply.text().await.unwrap().contains("name=\"password\""));

        // Logout through the browser ends the sign-in and both apps' sessions, and the cookie.
        let hint = spa_tokens["id_token"].as_str().unwrap();
        let logout = browser
            .get(&format!(
                "{gw}/realms/acme/protocol/openid-connect/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
                urlencode(SPA)
            ))
            .await;
        assert_eq!(logout.status(), 302, "{name}");
        assert_eq!(
            logout.headers()["location"],
            format!("{SPA}?state=bye").as_str()
        );
        let removal = set_cookie(&logout, "KEYCLOAK_IDENTITY").expect("the cookie is cleared");
        assert!(
            removal.contains("Max-Age=0") && removal.contains("Path=/realms/acme/"),
            "{removal}"
        );
        assert!(!browser.jar.0.contains_key("KEYCLOAK_IDENTITY"));
        assert_eq!(
            refresh(&api, &gw, "spa", &spa_tokens).await,
            400,
            "{name}: the app's session ended"
        );
        assert_eq!(
            refresh(&api, &gw, "portal", &portal_tokens).await,
            400,
            "{name}: the other app's too"
        );
        let reply = browser.get(&browser.auth_url("portal", PORTAL, &[])).await;
        assert_eq!(reply.status(), 200, "{name}: signed out: the form again");

        platform.stop().await;
    }
}

#[actix_web::test]
async fn a_stolen_cookie_is_worthless_after_logout_and_lockout_applies() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let api = http();
        seed(&api, &gw).await;
        let mut browser = Browser {
            client: http(),
            jar: Jar::default(),
            gw: gw.clone(),
        };

        // Three wrong passwords lock lou; the right one then gets the same answer.
        let page = browser
            .get(&browser.auth_url("spa", SPA, &[]))
            .await
            .text()
            .await
            .unwrap();
        for _ in 0..3 {
            let reply = browser.sign_in(&page, "lou", "not-it").await;
            assert_eq!(reply.status(), 400, "{name}");
        }
        let locked = browser.sign_in(&page, "lou", "Lou-pass-1").await;
        assert_eq!(locked.status(), 400, "{name}: locked out");
        assert!(
            locked
                .text()
                .await
                .unwrap()
                .contains("Invalid username or password.")
        );

        // A sign-in, its cookie copied; logout without a hint asks first, then ends it.
        let reply = browser.sign_in(&page, "erin", "Erin-pass-1").await;
        assert_eq!(reply.status(), 302, "{name}");
        let stolen = browser.jar.clone();
        let logout_url = format!("{gw}/realms/acme/protocol/openid-connect/logout");
        let confirm = browser.get(&logout_url).await;
        assert_eq!(confirm.status(), 200, "{name}: a confirmation page");
        assert!(
            set_cookie(&confirm, "KEYCLOAK_IDENTITY").is_none(),
            "{name}: nothing ended yet"
        );
        let form = confirm.text().await.unwrap();
        let forged = browser.post(&logout_url, &[("confirm", "forged")]).await;
        assert_eq!(
            forged.status(),
            200,
            "{name}: a forged confirmation only asks again"
        );
        assert!(set_cookie(&forged, "KEYCLOAK_IDENTITY").is_none());
        let done = browser
            .post(&logout_url, &[("confirm", &hidden(&form, "confirm"))])
            .await;
        assert_eq!(done.status(), 200, "{name}");
        assert!(
            set_cookie(&done, "KEYCLOAK_IDENTITY")
                .unwrap()
                .contains("Max-Age=0")
        );
        assert!(done.text().await.unwrap().contains("You are signed out"));

        let mut thief = Browser {
            client: http(),
            jar: stolen,
            gw: gw.clone(),
        };
        let reply = thief.get(&thief.auth_url("portal", PORTAL, &[])).await;
        assert_eq!(
            reply.status(),
            200,
            "{name}: the old cookie signs nobody in"
        );

        platform.stop().await;
    }
}

fn urlencode(text: &str) -> String {
    Url::parse("https://x/")
        .map(|mut u| {
            u.query_pairs_mut().append_pair("v", text);
            u.query().unwrap()[2..].to_owned()
        })
        .unwrap()
}
