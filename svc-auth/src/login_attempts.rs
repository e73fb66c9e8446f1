//! A sign-in in progress on the hosted pages, kept in the shared cache under the SHA-256 of
//! its id for the realm's `accessCodeLifespanLogin`. Its forms carry the id and a CSRF token,
//! and a post counts only from the browser that started it: the SHA-256 of that browser's
//! `AUTH_SESSION_ID` cookie is stored with the attempt. A post failing any of these checks is
//! refused before anything else happens (no password is checked, no counter moves).

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use idp_shared::security::{random_token, secrets_equal};
use serde::{Deserialize, Serialize};

use crate::State;
use crate::authorize::AuthRequest;
use crate::error::Error;
use crate::pages::PageError;
use crate::sso::{self, ATTEMPT_COOKIE};
use crate::tenants::TenantInfo;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginAttempt {
    pub tenant: String,
    pub request: AuthRequest,
    pub csrf_token: String,
    /// SHA-256 (hex) of the AUTH_SESSION_ID cookie of the browser that started it.
    pub browser_binding: String,
    /// The user, once known: after the password, or vouched for by a live sign-in.
    pub user_id: Option<String>,
    /// The live sign-in that vouched for the user, when no password was asked.
    pub browser_session_id: Option<String>,
    /// Required actions still to do, in order.
    pub pending_actions: Vec<String>,
    /// The authenticator seed shown while CONFIGURE_TOTP is pending (base32).
    pub totp_secret: Option<String>,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

fn key(id: &str) -> String {
    format!("login-attempt:{}", sso::hash(id))
}

/// A new attempt; also the binding cookie's value when the browser has none yet.
pub struct Started {
    pub id: String,
    pub attempt: LoginAttempt,
    pub new_binding: Option<String>,
}

/// The browser's binding cookie, if it sent a well-formed one.
fn binding_of(req: &HttpRequest) -> Option<String> {
    req.cookie(ATTEMPT_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

pub async fn start(
    state: &State,
    tenant: &TenantInfo,
    request: AuthRequest,
    req: &HttpRequest,
    user_id: Option<(String, String)>,
    now: i64,
) -> Result<Started, Error> {
    let (binding, new_binding) = match binding_of(req) {
        Some(existing) => (existing, None),
        None => {
            let fresh = random_token(32);
            (fresh.clone(), Some(fresh))
        }
    };
    let (user_id, browser_session_id) = match user_id {
        Some((user, session)) => (Some(user), Some(session)),
        None => (None, None),
    };
    let attempt = LoginAttempt {
        tenant: tenant.name.clone(),
        request,
        csrf_token: random_token(32),
        browser_binding: sso::hash(&binding),
        user_id,
        browser_session_id,
        pending_actions: Vec::new(),
        totp_secret: None,
        expires_at: now.saturating_add(tenant.login_lifespan.saturating_mul(1000)),
    };
    let id = random_token(32);
    save(state, &id, &attempt, now).await?;
    Ok(Started {
        id,
        attempt,
        new_binding,
    })
}

/// Stores the attempt until it expires.
pub async fn save(state: &State, id: &str, attempt: &LoginAttempt, now: i64) -> Result<(), Error> {
    let left = (attempt.expires_at - now).max(1000) as u64;
    let bytes = serde_json::to_vec(attempt).map_err(|e| Error::Upstream(e.to_string()))?;
    state
        .ctx
        .cache
        .set(&key(id), &bytes, Duration::from_millis(left))
        .await?;
    Ok(())
}

/// Removes the attempt; true for the one caller that removed it (a double submit finishes
/// once).
pub async fn finish(state: &State, id: &str) -> Result<bool, Error> {
    Ok(state.ctx.cache.take(&key(id)).await?.is_some())
}

/// The attempt a form names, if the form is genuine: the attempt exists in this tenant, the
/// browser is the one that started it, and the CSRF token is the attempt's.
pub async fn load_checked(
    state: &State,
    tenant: &TenantInfo,
    req: &HttpRequest,
    id: Option<&str>,
    csrf_token: Option<&str>,
    now: i64,
) -> Result<LoginAttempt, PageError> {
    let attempt = load_bound(state, tenant, req, id, now).await?;
    let genuine =
        csrf_token.is_some_and(|t| secrets_equal(t.as_bytes(), attempt.csrf_token.as_bytes()));
    if !genuine {
        tracing::warn!(tenant = %tenant.name, "hosted form refused: its CSRF token does not match");
        return Err(forged());
    }
    Ok(attempt)
}

fn forged() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "This form could not be verified. Please start again from the application.",
    )
}

/// The attempt a link of its own pages names, if this browser started it (showing a page
/// needs no CSRF token; posting its form does).
pub async fn load_bound(
    state: &State,
    tenant: &TenantInfo,
    req: &HttpRequest,
    id: Option<&str>,
    now: i64,
) -> Result<LoginAttempt, PageError> {
    let attempt = find(state, tenant, id, now).await?.ok_or_else(|| {
        PageError::bad_request(
            "Your sign-in attempt has expired or is unknown. Please start again from the application.",
        )
    })?;
    let Some(binding) = req.cookie(ATTEMPT_COOKIE) else {
        return Err(PageError::bad_request(
            "Cookie not found. Please make sure cookies are enabled in your browser, then start again.",
        ));
    };
    if !secrets_equal(
        sso::hash(binding.value()).as_bytes(),
        attempt.browser_binding.as_bytes(),
    ) {
        tracing::warn!(tenant = %tenant.name, "hosted form refused: another browser's attempt");
        return Err(forged());
    }
    Ok(attempt)
}

/// The attempt with this id in this tenant, if it has not expired.
pub async fn find(
    state: &State,
    tenant: &TenantInfo,
    id: Option<&str>,
    now: i64,
) -> Result<Option<LoginAttempt>, PageError> {
    let Some(id) = id.filter(|i| !i.is_empty() && i.len() <= 64) else {
        return Ok(None);
    };
    let bytes = state
        .ctx
        .cache
        .get(&key(id))
        .await
        .map_err(|e| PageError::from(Error::from(e)))?;
    Ok(bytes
        .and_then(|b| serde_json::from_slice::<LoginAttempt>(&b).ok())
        .filter(|a| a.tenant == tenant.name && a.expires_at > now))
}

/// Whether this browser started the attempt.
pub fn started_here(req: &HttpRequest, attempt: &LoginAttempt) -> bool {
    req.cookie(ATTEMPT_COOKIE).is_some_and(|c| {
        secrets_equal(
            sso::hash(c.value()).as_bytes(),
            attempt.browser_binding.as_bytes(),
        )
    })
}
