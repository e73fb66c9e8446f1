//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) and its answer.
//!
//! Until the client and its redirect URI are known to match, every problem is an error page:
//! a browser is never sent to a URI nobody registered (RFC 6749 §4.1.2.1). After that, errors
//! go back to the app at its redirect URI, in the response mode it asked for, with its
//! `state` and our `iss` (RFC 9207).

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use askama::Template;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::clients::{ClientInfo, redirect_matches};
use crate::pages::{self, Allow, PageError};
use crate::tokens;

/// The longest value any one parameter may have; longer ones are refused with a page rather
/// than stored with the sign-in or echoed back.
pub const MAX_PARAM_LEN: usize = 4096;

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    pub const SUPPORTED: [&'static str; 3] = ["query", "fragment", "form_post"];

    fn parse(value: &str) -> Option<ResponseMode> {
        match value {
            "query" => Some(ResponseMode::Query),
            "fragment" => Some(ResponseMode::Fragment),
            "form_post" => Some(ResponseMode::FormPost),
            _ => None,
        }
    }
}

/// The request's parameters, each present at most once (RFC 6749 §3.1). An empty value
/// counts as absent.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, PageError> {
        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            if value.len() > MAX_PARAM_LEN {
                return Err(PageError::bad_request(format!(
                    "Invalid parameter: {name} (too long)"
                )));
            }
            if map.insert(name.clone(), value).is_some() {
                return Err(PageError::bad_request(format!(
                    "Invalid parameter: {name} (given more than once)"
                )));
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Where the answer goes, once the redirect URI is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
}

/// A validated authorization request: what a code will be issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub destination: Destination,
    pub nonce: Option<String>,
    /// The scope the tokens get (defaults plus what was asked).
    pub scope: String,
    pub code_challenge: Option<String>,
    /// Prefills the username field (`login_hint`, else `kc_idp_hint`).
    pub login_hint: Option<String>,
}

/// What the request asks of the sign-in itself (not kept with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompting {
    /// `prompt=login` (or `select_account`): the form even with a live sign-in.
    pub force_login: bool,
    /// `prompt=none`: no page at all; `login_required` unless already signed in.
    pub no_interaction: bool,
    /// `max_age`: a sign-in older than this many seconds needs the form again.
    pub max_age_secs: Option<i64>,
}

/// An error for the app, sent to its redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
}

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        error,
        description: description.into(),
    }
}

/// The redirect URI must be absolute, without a fragment (RFC 6749 §3.1.2) and registered
/// for the client; otherwise the browser gets a page.
pub fn trusted_destination(params: &Params, client: &ClientInfo) -> Result<Destination, PageError> {
    let uri = params
        .get("redirect_uri")
        .ok_or_else(|| PageError::bad_request("Missing parameter: redirect_uri"))?;
    let absolute = Url::parse(uri).is_ok_and(|u| u.fragment().is_none());
    if !absolute || !plain_path(uri) || !redirect_matches(&client.client.redirect_uris, uri) {
        return Err(PageError::bad_request("Invalid parameter: redirect_uri"));
    }
    // An unknown response_mode still needs a way to be reported: the default one.
    let response_mode = params
        .get("response_mode")
        .and_then(ResponseMode::parse)
        .unwrap_or(ResponseMode::Query);
    Ok(Destination {
        redirect_uri: uri.to_owned(),
        response_mode,
        state: params.get("state").map(str::to_owned),
    })
}

/// No dot segments (plain or encoded) and no backslashes: a browser would resolve them, so
/// a URI matching a registered `.../*` prefix could land outside it.
fn plain_path(uri: &str) -> bool {
    let before_query = uri.split(['?', '#']).next().unwrap_or_default();
    !before_query.contains('\\')
        && before_query.split('/').all(|segment| {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            decoded != "." && decoded != ".."
        })
}

/// Everything else of the request, checked in Keycloak's order.
pub fn validate(
    params: &Params,
    client: &ClientInfo,
    destination: Destination,
) -> Result<(AuthRequest, Prompting), Refusal> {
    if let Some(mode) = params.get("response_mode")
        && ResponseMode::parse(mode).is_none()
    {
        return Err(refuse(
            "invalid_request",
            "Invalid parameter: response_mode",
        ));
    }
    if params.get("request").is_some() {
        return Err(refuse(
            "request_not_supported",
            "Request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(refuse(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match params.get("response_type") {
        None => {
            return Err(refuse(
                "invalid_request",
                "Missing parameter: response_type",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "Client is not allowed to initiate browser login with given response_type. Only the code flow is supported.",
            ));
        }
    }
    if !client.client.standard_flow_enabled {
        return Err(refuse(
            "unauthorized_client",
            "Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.",
        ));
    }
    let scope = tokens::granted_scope(params.get("scope")).map_err(|_| {
        refuse(
            "invalid_scope",
            "Invalid scopes: not every requested scope is known",
        )
    })?;
    let prompting = prompting(params)?;
    let code_challenge = pkce(params, client)?;
    let login_hint = params
        .get("login_hint")
        .or_else(|| params.get("kc_idp_hint"))
        .map(|h| h.chars().take(255).collect());
    Ok((
        AuthRequest {
            client_id: client.client.client_id.clone(),
            destination,
            nonce: params.get("nonce").map(str::to_owned),
            scope,
            code_challenge,
            login_hint,
        },
        prompting,
    ))
}

fn prompting(params: &Params) -> Result<Prompting, Refusal> {
    let mut prompting = Prompting::default();
    if let Some(prompt) = params.get("prompt") {
        let values: Vec<&str> = prompt.split_whitespace().collect();
        for value in &values {
            match *value {
                "login" | "select_account" => prompting.force_login = true,
                "none" => prompting.no_interaction = true,
                _ => return Err(refuse("invalid_request", "Invalid parameter: prompt")),
            }
        }
        // OIDC Core §3.1.2.1: none with anything else is an error.
        if prompting.no_interaction && values.len() > 1 {
            return Err(refuse("invalid_request", "Invalid parameter: prompt"));
        }
    }
    if let Some(max_age) = params.get("max_age") {
        let seconds = max_age
            .parse::<i64>()
            .ok()
            .filter(|s| *s >= 0)
            .ok_or_else(|| refuse("invalid_request", "Invalid parameter: max_age"))?;
        prompting.max_age_secs = Some(seconds);
    }
    Ok(prompting)
}

/// PKCE (RFC 7636): only S256; required for public clients and for clients whose
/// `pkce.code.challenge.method` attribute says S256.
fn pkce(params: &Params, client: &ClientInfo) -> Result<Option<String>, Refusal> {
    let required = client.client.public_client
        || client
            .client
            .attributes
            .get("pkce.code.challenge.method")
            .and_then(serde_json::Value::as_str)
            == Some("S256");
    match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) if required => Err(refuse(
            "invalid_request",
            "Missing parameter: code_challenge_method",
        )),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(refuse(
            "invalid_request",
            "Missing parameter: code_challenge",
        )),
        // An absent method means `plain` (RFC 7636 §4.3), which is not accepted.
        (Some(_), None) => Err(refuse(
            "invalid_request",
            "Missing parameter: code_challenge_method",
        )),
        (Some(_), Some(method)) if method != "S256" => Err(refuse(
            "invalid_request",
            "Invalid parameter: code_challenge_method",
        )),
        (Some(challenge), Some(_)) => {
            // BASE64URL(SHA-256(verifier)) is always 43 characters.
            let well_formed = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if well_formed {
                Ok(Some(challenge.to_owned()))
            } else {
                Err(refuse(
                    "invalid_request",
                    "Invalid parameter: code_challenge",
                ))
            }
        }
    }
}

fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, COMPONENT)))
        .collect::<Vec<_>>()
        .join("&")
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    realm_display: &'a str,
    nonce: &'a str,
    target: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

/// Sends the browser back to the app with `fields` (plus `state` and `iss`), in its response
/// mode. `destination` must have come from [`trusted_destination`].
pub fn answer(
    destination: &Destination,
    issuer: &str,
    realm_display: &str,
    fields: &[(&str, &str)],
) -> HttpResponse {
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    if let Some(state) = &destination.state {
        all.push(("state", state));
    }
    all.push(("iss", issuer));
    let uri = &destination.redirect_uri;
    let location = match destination.response_mode {
        ResponseMode::FormPost => {
            let nonce = pages::nonce();
            let page = FormPostPage {
                realm_display,
                nonce: &nonce,
                target: uri,
                fields: all,
            };
            let allow = Allow {
                script: true,
                ..Allow::posting_to(uri)
            };
            return pages::render(&page, StatusCode::OK, &nonce, &allow);
        }
        ResponseMode::Query => {
            let separator = match uri.split_once('?') {
                Some((_, query)) if !query.is_empty() => "&",
                Some(_) => "",
                None => "?",
            };
            format!("{uri}{separator}{}", encode(&all))
        }
        ResponseMode::Fragment => format!("{uri}#{}", encode(&all)),
    };
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Tells the app about an error at its redirect URI.
pub fn refusal(
    destination: &Destination,
    issuer: &str,
    realm_display: &str,
    refusal: &Refusal,
) -> HttpResponse {
    answer(
        destination,
        issuer,
        realm_display,
        &[
            ("error", refusal.error),
            ("error_description", &refusal.description),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(public: bool) -> ClientInfo {
        serde_json::from_value(json!({
            "client": {
                "id": "1", "clientId": "spa", "enabled": true, "publicClient": public,
                "bearerOnly": false, "standardFlowEnabled": true,
                "directAccessGrantsEnabled": false, "serviceAccountsEnabled": false,
                "redirectUris": ["https://app.example/cb", "https://app.example/wild/*",
                                 "com.example.app:/oauth"]
            },
            "secretSha256": null
        }))
        .unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn only_registered_redirect_uris_are_trusted() {
        let spa = client(true);
        for good in [
            "https://app.example/cb",
            "https://app.example/wild/x?y=1",
            "com.example.app:/oauth",
        ] {
            assert!(
                trusted_destination(&params(&[("redirect_uri", good)]), &spa).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "https://evil.example/cb",
            "https://app.example/cb#x",
            "https://app.example/cb/x",
            "https://app.example/wild/../../admin",
            "https://app.example/wild/%2E%2e/admin",
            "https://app.example/wild/..\\admin",
            "/cb",
            "",
        ] {
            let err = trusted_destination(&params(&[("redirect_uri", bad)]), &spa).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        let twice = Params::from_pairs(vec![
            ("client_id".into(), "a".into()),
            ("client_id".into(), "b".into()),
        ]);
        assert!(twice.is_err());
    }

    #[test]
    fn public_clients_need_s256() {
        let spa = client(true);
        let dest =
            trusted_destination(&params(&[("redirect_uri", "https://app.example/cb")]), &spa)
                .unwrap();
        let base = [
            ("response_type", "code"),
            ("redirect_uri", "https://app.example/cb"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            validate(&params(&all), &spa, dest.clone())
        };
        assert_eq!(with(&[]).unwrap_err().error, "invalid_request");
        assert_eq!(
            with(&[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain")
            ])
            .unwrap_err()
            .description,
            "Invalid parameter: code_challenge_method"
        );
        assert!(
            with(&[("code_challenge", CHALLENGE)]).is_err(),
            "no method means plain"
        );
        assert!(
            with(&[
                ("code_challenge", "short"),
                ("code_challenge_method", "S256")
            ])
            .is_err()
        );
        let (request, _) = with(&[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        assert_eq!(request.code_challenge.as_deref(), Some(CHALLENGE));
        assert!(
            validate(&params(&base), &client(false), dest.clone()).is_ok(),
            "confidential: optional"
        );
    }

    #[test]
    fn prompt_and_response_mode_are_checked() {
        let ok = |pairs: &[(&str, &str)]| prompting(&params(pairs));
        assert!(ok(&[("prompt", "login")]).unwrap().force_login);
        assert!(ok(&[("prompt", "none")]).unwrap().no_interaction);
        assert!(ok(&[("prompt", "none login")]).is_err());
        assert!(ok(&[("prompt", "consent")]).is_err());
        assert_eq!(ok(&[("max_age", "60")]).unwrap().max_age_secs, Some(60));
        assert!(ok(&[("max_age", "-1")]).is_err());
        let spa = client(false);
        let dest = trusted_destination(
            &params(&[
                ("redirect_uri", "https://app.example/cb"),
                ("response_mode", "query.jwt"),
            ]),
            &spa,
        )
        .unwrap();
        assert_eq!(
            dest.response_mode,
            ResponseMode::Query,
            "errors go back the default way"
        );
        let refused = validate(
            &params(&[("response_type", "code"), ("response_mode", "query.jwt")]),
            &spa,
            dest,
        )
        .unwrap_err();
        assert_eq!(refused.description, "Invalid parameter: response_mode");
    }

    #[test]
    fn answers_use_the_response_mode() {
        let dest = |mode, uri: &str| Destination {
            redirect_uri: uri.into(),
            response_mode: mode,
            state: Some("s 1&x".into()),
        };
        let query = answer(
            &dest(ResponseMode::Query, "https://a.example/cb?k=v"),
            "https://idp/realms/t",
            "T",
            &[("code", "c")],
        );
        assert_eq!(query.status(), StatusCode::FOUND);
        assert_eq!(
            query.headers().get(header::LOCATION).unwrap(),
            "https://a.example/cb?k=v&code=c&state=s%201%26x&iss=https%3A%2F%2Fidp%2Frealms%2Ft"
        );
        let fragment = answer(
            &dest(ResponseMode::Fragment, "https://a.example/cb"),
            "i",
            "T",
            &[("code", "c")],
        );
        assert_eq!(
            fragment.headers().get(header::LOCATION).unwrap(),
            "https://a.example/cb#code=c&state=s%201%26x&iss=i"
        );
        let post = answer(
            &dest(ResponseMode::FormPost, "https://a.example/cb"),
            "i",
            "T",
            &[("code", "c")],
        );
        assert_eq!(post.status(), StatusCode::OK);
        let csp = post
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            csp.contains("form-action 'self' https://a.example"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'nonce-"), "{csp}");
    }
}
