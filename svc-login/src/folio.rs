//! What FOLIO's `/authn` routes share: the tenant from `X-Okapi-Tenant`, the caller's token
//! (`Authorization` or FOLIO's `X-Okapi-Token`), the caller's address, and the token cookies
//! of mod-login-keycloak.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header, web};
use idp_shared::admin::{Caller, MASTER};
use idp_shared::bearer::{BearerError, BearerVerifier};
use idp_shared::error::Folio;
use idp_shared::names::{check_tenant_name, now_millis};
use serde_json::{Value, json};

use crate::error::Error;
use crate::time::format_iso;

pub const ACCESS_COOKIE: &str = "folioAccessToken";
pub const REFRESH_COOKIE: &str = "folioRefreshToken";
/// No configuration key exists for it (yet): FOLIO's default.
pub const COOKIE_SAME_SITE: SameSite = SameSite::None;

/// Extractor: the tenant a FOLIO request is for; 400 in FOLIO's shape when the header is
/// missing or names no possible tenant.
#[derive(Debug, Clone)]
pub struct OkapiTenant(pub String);

impl FromRequest for OkapiTenant {
    type Error = Folio<Error>;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let tenant = match req.headers().get("x-okapi-tenant").map(|v| v.to_str()) {
            None => Err(Error::MissingTenant),
            Some(Ok(value)) if value.trim().is_empty() => Err(Error::MissingTenant),
            Some(Ok(value)) => check_tenant_name(value.trim())
                .map(|()| OkapiTenant(value.trim().to_owned()))
                .map_err(|_| Error::Invalid("X-Okapi-Tenant is not a valid tenant name".into())),
            Some(Err(_)) => Err(Error::Invalid(
                "X-Okapi-Tenant is not a valid tenant name".into(),
            )),
        };
        std::future::ready(tenant.map_err(Folio))
    }
}

/// Extractor: the verified token of a FOLIO request, from `Authorization: Bearer` (checked by
/// the shared extractor) or else FOLIO's own `X-Okapi-Token` header; tokens of the
/// `X-Okapi-Tenant` tenant and of `master` are accepted. The cookie is not read: a cookie
/// rides along on cross-site requests, a header does not.
#[derive(Debug, Clone)]
pub struct FolioCaller(pub Caller);

impl FromRequest for FolioCaller {
    type Error = Folio<Error>;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if req.headers().contains_key(header::AUTHORIZATION) {
                return Caller::extract(&req)
                    .await
                    .map(FolioCaller)
                    .map_err(|r| Folio(Error::Refused(r.info)));
            }
            let refuse = |e: BearerError| Folio(Error::Refused(e.info()));
            let token = req
                .headers()
                .get("x-okapi-token")
                .ok_or(BearerError::Missing)
                .and_then(|v| v.to_str().map_err(|_| BearerError::Malformed))
                .map_err(refuse)?;
            let verifier = req
                .app_data::<web::Data<BearerVerifier>>()
                .ok_or_else(|| Folio(Error::Internal("no bearer verifier registered".into())))?;
            let tenant = req
                .headers()
                .get("x-okapi-tenant")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|t| !t.is_empty() && *t != MASTER);
            let mut tenants = vec![MASTER];
            if let Some(t) = tenant {
                tenants.insert(0, t);
            }
            let principal = verifier
                .verify(token, &tenants, now_millis() / 1000)
                .await
                .map_err(refuse)?;
            Ok(FolioCaller(Caller { principal }))
        })
    }
}

/// The caller's address: the entry the gateway appended to `X-Forwarded-For`, else the peer.
pub fn client_address(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
}

pub fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect())
}

/// The tokens of an OAuth token reply and when they expire.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_in: i64,
    /// 0 when the refresh token has no expiry of its own.
    pub refresh_expires_in: i64,
    pub issued_at_ms: i64,
}

impl IssuedTokens {
    pub fn from_reply(reply: &Value, now_ms: i64) -> Result<IssuedTokens, Error> {
        let text = |key: &str| {
            reply[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::Upstream(format!("svc-auth: token reply lacks {key}")))
        };
        Ok(IssuedTokens {
            access_token: text("access_token")?,
            refresh_token: text("refresh_token")?,
            access_expires_in: reply["expires_in"].as_i64().unwrap_or(0).max(0),
            refresh_expires_in: reply["refresh_expires_in"].as_i64().unwrap_or(0).max(0),
            issued_at_ms: now_ms,
        })
    }

    /// `{accessTokenExpiration, refreshTokenExpiration}` as ISO-8601 instants.
    pub fn expiry_body(&self) -> Value {
        let at = |secs: i64| format_iso(self.issued_at_ms + secs * 1000);
        json!({
            "accessTokenExpiration": at(self.access_expires_in),
            "refreshTokenExpiration": (self.refresh_expires_in > 0)
                .then(|| at(self.refresh_expires_in)),
        })
    }

    /// Both cookies, each living as long as its token.
    pub fn cookies(&self, relative_path: &str) -> [Cookie<'static>; 2] {
        [
            cookie(
                ACCESS_COOKIE,
                self.access_token.clone(),
                root_path(relative_path),
                Some(self.access_expires_in),
            ),
            cookie(
                REFRESH_COOKIE,
                self.refresh_token.clone(),
                authn_path(relative_path),
                (self.refresh_expires_in > 0).then_some(self.refresh_expires_in),
            ),
        ]
    }
}

fn root_path(relative_path: &str) -> String {
    if relative_path.is_empty() {
        "/".into()
    } else {
        relative_path.to_owned()
    }
}

fn authn_path(relative_path: &str) -> String {
    format!("{relative_path}/authn")
}

fn cookie(
    name: &'static str,
    value: String,
    path: String,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .secure(true)
        .same_site(COOKIE_SAME_SITE)
        .finish();
    if let Some(secs) = max_age {
        cookie.set_max_age(CookieAge::seconds(secs));
    }
    cookie
}

/// Both cookies emptied and expired (logout, failed token exchange).
pub fn cleared_cookies(relative_path: &str) -> [Cookie<'static>; 2] {
    [
        cookie(
            ACCESS_COOKIE,
            String::new(),
            root_path(relative_path),
            Some(0),
        ),
        cookie(
            REFRESH_COOKIE,
            String::new(),
            authn_path(relative_path),
            Some(0),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_carry_the_tokens_with_their_lifetimes() {
        let reply = json!({"access_token": "a.b.c", "refresh_token": "r.s.t",
            "expires_in": 300, "refresh_expires_in": 1800});
        let tokens = IssuedTokens::from_reply(&reply, 1_566_656_122_000).unwrap();
        let body = tokens.expiry_body();
        assert_eq!(body["accessTokenExpiration"], "2019-08-24T14:20:22.000Z");
        assert_eq!(body["refreshTokenExpiration"], "2019-08-24T14:45:22.000Z");
        let [access, refresh] = tokens.cookies("");
        let access = access.to_string();
        assert!(access.starts_with("folioAccessToken=a.b.c"), "{access}");
        for part in [
            "HttpOnly",
            "Secure",
            "SameSite=None",
            "Path=/",
            "Max-Age=300",
        ] {
            assert!(access.contains(part), "{access} lacks {part}");
        }
        let refresh = refresh.to_string();
        assert!(
            refresh.contains("Path=/authn") && refresh.contains("Max-Age=1800"),
            "{refresh}"
        );
        let [_, prefixed] = tokens.cookies("/auth");
        assert!(prefixed.to_string().contains("Path=/auth/authn"));
        let [gone, _] = cleared_cookies("");
        assert!(gone.to_string().starts_with("folioAccessToken=;"), "{gone}");
        assert!(gone.to_string().contains("Max-Age=0"));
        assert!(IssuedTokens::from_reply(&json!({"access_token": "x"}), 0).is_err());
    }
}
