//! Emailed links (Keycloak's action tokens): a random key in the link, its SHA-256 in the
//! shared cache with what it allows, for the realm's `actionTokenGeneratedByUserLifespan`.
//! Each key works once. The mail itself is queued by svc-tenants
//! (`POST /internal/realms/{t}/mail`), which never says whether it was delivered.

use std::time::Duration;

use idp_shared::ServiceKind;
use idp_shared::security::random_token;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::State;
use crate::authorize::AuthRequest;
use crate::error::Error;
use crate::sso::{self, Scope};
use crate::tenants::TenantInfo;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Purpose {
    /// Choose a new password (forgotten password).
    ResetPassword,
    /// Prove this address is the user's (VERIFY_EMAIL).
    VerifyEmail { email: String },
    /// Sign in to an app by the link alone (KOBIL's magic link); `reset_password` asks for a
    /// new password first.
    MagicLink {
        request: AuthRequest,
        reset_password: bool,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionToken {
    pub tenant: String,
    pub user_id: String,
    pub purpose: Purpose,
    /// The sign-in the link was asked from, to go on with when it is opened in that browser.
    pub attempt_id: Option<String>,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

fn key(value: &str) -> String {
    format!("action-token:{}", sso::hash(value))
}

/// Stores a token; returns the key for the link.
pub async fn issue(state: &State, token: &ActionToken, now: i64) -> Result<String, Error> {
    let value = random_token(32);
    put(state, &value, token, now).await?;
    Ok(value)
}

async fn put(state: &State, value: &str, token: &ActionToken, now: i64) -> Result<(), Error> {
    let bytes = serde_json::to_vec(token).map_err(|e| Error::Upstream(e.to_string()))?;
    let left = (token.expires_at - now).max(1000) as u64;
    state
        .ctx
        .cache
        .set(&key(value), &bytes, Duration::from_millis(left))
        .await?;
    Ok(())
}

/// The token a link names, if it is still valid here.
pub async fn peek(
    state: &State,
    tenant: &TenantInfo,
    value: &str,
    now: i64,
) -> Result<Option<ActionToken>, Error> {
    if value.is_empty() || value.len() > 64 {
        return Ok(None);
    }
    let Some(bytes) = state.ctx.cache.get(&key(value)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<ActionToken>(&bytes)
        .ok()
        .filter(|t| t.tenant == tenant.name && t.expires_at > now))
}

/// Spends a token: true for the one caller that spent it.
pub async fn spend(state: &State, value: &str) -> Result<bool, Error> {
    Ok(state.ctx.cache.take(&key(value)).await?.is_some())
}

/// Puts a spent token back (the new password it was spent for was refused).
pub async fn restore(
    state: &State,
    value: &str,
    token: &ActionToken,
    now: i64,
) -> Result<(), Error> {
    put(state, value, token, now).await
}

/// The absolute link a mail carries.
pub fn link(state: &State, tenant: &TenantInfo, value: &str) -> String {
    let scope = Scope::of(state, &tenant.name);
    let public = state.ctx.settings.public_url();
    let origin = reqwest::Url::parse(&public)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or(public);
    format!(
        "{origin}{}?key={value}",
        scope.page("login-actions/action-token")
    )
}

/// At most one mail of a kind to a user per minute, whatever is posted.
pub async fn may_mail(
    state: &State,
    tenant: &str,
    user_id: &str,
    kind: &str,
) -> Result<bool, Error> {
    Ok(state
        .ctx
        .cache
        .set_if_absent(
            &format!("action-mail:{kind}:{tenant}:{user_id}"),
            b"1",
            Duration::from_secs(60),
        )
        .await?)
}

/// Queues a mail with a link (svc-tenants). Only a refusal of the request itself is an
/// error; delivery is svc-tenants' concern.
pub async fn mail(
    state: &State,
    tenant: &TenantInfo,
    template: &str,
    to: &str,
    link: &str,
) -> Result<(), Error> {
    let reply = state
        .ctx
        .client
        .request(
            Method::POST,
            ServiceKind::Tenants,
            &format!("/internal/realms/{}/mail", tenant.name),
        )
        .json(&json!({
            "template": template,
            "to": to,
            "params": {
                "link": link,
                "expiresInMinutes": (tenant.action_token_lifespan / 60).max(1),
            },
        }))
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-tenants: {e}")))?;
    if !reply.status().is_success() {
        return Err(Error::Upstream(format!(
            "svc-tenants answered {} to a {template} mail",
            reply.status()
        )));
    }
    Ok(())
}
