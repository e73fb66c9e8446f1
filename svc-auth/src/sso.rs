//! Browser sign-ins (single sign-on). The `KEYCLOAK_IDENTITY` cookie carries a random handle;
//! only its SHA-256 is stored (`browser_sessions`), so a database read gives nobody a working
//! cookie. While the sign-in lives (not ended, within the realm's SSO idle and max lifespans)
//! another app of the tenant gets a code without the password form.
//!
//! Cookies are the tenant's alone (path `/realms/{t}/` under the public URL's path), HttpOnly,
//! SameSite=Lax (sent on the top-level navigations of the code flow, not on cross-site posts)
//! and Secure when the public URL is https.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use idp_shared::security::random_token;
use reqwest::Url;
use sha2::{Digest, Sha256};

use crate::State;
use crate::error::Error;
use crate::store::{self, BrowserSessionRow};
use crate::tenants::TenantInfo;

/// The browser's sign-in (Keycloak's name for its SSO cookie).
pub const SSO_COOKIE: &str = "KEYCLOAK_IDENTITY";
/// Binds a sign-in in progress to the browser that started it (Keycloak's name).
pub const ATTEMPT_COOKIE: &str = "AUTH_SESSION_ID";

/// SHA-256 (hex) of a cookie value or handle.
pub fn hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Where a tenant's cookies and hosted pages live.
#[derive(Debug, Clone)]
pub struct Scope {
    /// `{public path}/realms/{t}`: the prefix of every hosted page's path.
    pub realm_path: String,
    secure: bool,
}

impl Scope {
    pub fn of(state: &State, tenant: &str) -> Scope {
        let public = state.ctx.settings.public_url();
        let (base, secure) = match Url::parse(&public) {
            Ok(url) => (
                url.path().trim_end_matches('/').to_owned(),
                url.scheme() == "https",
            ),
            Err(_) => (String::new(), false),
        };
        Scope {
            realm_path: format!("{base}/realms/{tenant}"),
            secure,
        }
    }

    /// The path of a page under `/protocol/openid-connect/`.
    pub fn page(&self, rest: &str) -> String {
        format!("{}/protocol/openid-connect/{rest}", self.realm_path)
    }

    /// A session cookie of this tenant (no Max-Age: it ends with the browser; the server
    /// enforces the lifespans).
    pub fn cookie(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build(name, value)
            .path(format!("{}/", self.realm_path))
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish()
    }

    /// Tells the browser to forget a cookie of this tenant.
    pub fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut cookie = self.cookie(name, String::new());
        cookie.set_max_age(CookieDuration::ZERO);
        cookie.set_expires(actix_web::cookie::time::OffsetDateTime::UNIX_EPOCH);
        cookie
    }
}

fn live(row: &BrowserSessionRow, tenant: &TenantInfo, now: i64) -> bool {
    row.tenant == tenant.name
        && row.ended_at.is_none()
        && now - row.created_at < tenant.session_max.saturating_mul(1000)
        && now - row.last_seen_at < tenant.session_idle.saturating_mul(1000)
}

/// The browser's live sign-in in this tenant, if its cookie names one.
pub async fn current(
    state: &State,
    tenant: &TenantInfo,
    req: &HttpRequest,
    now: i64,
) -> Result<Option<BrowserSessionRow>, Error> {
    // A browser may hold more than one (other paths); at most a few are looked up.
    let hashes: Vec<String> = match req.cookies() {
        Ok(cookies) => cookies
            .iter()
            .filter(|c| c.name() == SSO_COOKIE && !c.value().is_empty() && c.value().len() <= 64)
            .take(3)
            .map(|c| hash(c.value()))
            .collect(),
        Err(_) => return Ok(None),
    };
    for cookie_hash in hashes {
        let found = state
            .ctx
            .db
            .run(move |conn| store::find_browser_session(conn, &cookie_hash))
            .await?;
        if let Some(row) = found.filter(|r| live(r, tenant, now)) {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// Whether a sign-in (by id) still lives.
pub async fn is_live(
    state: &State,
    tenant: &TenantInfo,
    id: &str,
    now: i64,
) -> Result<bool, Error> {
    let id = id.to_owned();
    let found = state
        .ctx
        .db
        .run(move |conn| store::find_browser_session_by_id(conn, &id))
        .await?;
    Ok(found.is_some_and(|r| live(&r, tenant, now)))
}

/// A new sign-in for a user who has just proven who they are; the row and the cookie value.
pub async fn begin(
    state: &State,
    tenant: &TenantInfo,
    user_id: &str,
    now: i64,
) -> Result<(BrowserSessionRow, String), Error> {
    let value = random_token(32);
    let row = BrowserSessionRow {
        id: uuid::Uuid::new_v4().to_string(),
        cookie_hash: hash(&value),
        tenant: tenant.name.clone(),
        user_id: user_id.to_owned(),
        created_at: now,
        authenticated_at: now,
        last_seen_at: now,
        ended_at: None,
    };
    let stored = row.clone();
    state
        .ctx
        .db
        .run(move |conn| store::insert_browser_session(conn, &stored))
        .await?;
    Ok((row, value))
}

/// Marks a sign-in used now (and re-authenticated now, after a password).
pub async fn touch(state: &State, id: &str, now: i64, reauthenticated: bool) -> Result<(), Error> {
    let id = id.to_owned();
    state
        .ctx
        .db
        .run(move |conn| store::touch_browser_session(conn, &id, now, reauthenticated))
        .await?;
    Ok(())
}
