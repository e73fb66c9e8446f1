//! What svc-auth knows of a tenant: the parts of its realm representation (read through
//! `idp_shared::realms`, cached briefly) that tokens depend on.

use idp_shared::realms::lookup_realm;
use std::sync::Arc;

use serde_json::Value;

use crate::State;
use crate::error::Error;
use crate::keys::Algorithm;

/// The parts of a realm representation svc-auth acts on.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    pub name: String,
    pub enabled: bool,
    /// Seconds since the epoch; tokens issued before it are invalid.
    pub not_before: i64,
    pub algorithm: Algorithm,
    /// Seconds an access token lives (`accessTokenLifespan`).
    pub access_token_lifespan: i64,
    /// Seconds a session lives without a refresh (`ssoSessionIdleTimeout`).
    pub session_idle: i64,
    /// Seconds a session lives at most (`ssoSessionMaxLifespan`).
    pub session_max: i64,
    /// What the hosted pages call the tenant: `displayName`, else its name.
    pub display_name: String,
    /// Seconds an authorization code lives (`accessCodeLifespan`).
    pub code_lifespan: i64,
    /// Seconds a sign-in on the hosted page may take (`accessCodeLifespanLogin`).
    pub login_lifespan: i64,
    /// Seconds an emailed link lives (`actionTokenGeneratedByUserLifespan`).
    pub action_token_lifespan: i64,
    /// The login page offers "Forgot password?" (`resetPasswordAllowed`).
    pub reset_password_allowed: bool,
    /// The whole realm representation, for the settings only one page reads (OTP policy).
    pub representation: std::sync::Arc<Value>,
}

impl TenantInfo {
    pub fn from_representation(name: &str, rep: Arc<Value>) -> TenantInfo {
        TenantInfo {
            name: name.to_owned(),
            enabled: rep["enabled"].as_bool().unwrap_or(false),
            not_before: rep["notBefore"].as_i64().unwrap_or(0),
            algorithm: rep["defaultSignatureAlgorithm"]
                .as_str()
                .and_then(Algorithm::parse)
                .unwrap_or(Algorithm::Rs256),
            access_token_lifespan: lifespan(&rep["accessTokenLifespan"], 300),
            session_idle: lifespan(&rep["ssoSessionIdleTimeout"], 1800),
            session_max: lifespan(&rep["ssoSessionMaxLifespan"], 36_000),
            display_name: rep["displayName"]
                .as_str()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .unwrap_or(name)
                .to_owned(),
            code_lifespan: lifespan(&rep["accessCodeLifespan"], 60),
            login_lifespan: lifespan(&rep["accessCodeLifespanLogin"], 1800),
            action_token_lifespan: lifespan(&rep["actionTokenGeneratedByUserLifespan"], 300),
            reset_password_allowed: rep["resetPasswordAllowed"].as_bool().unwrap_or(false),
            representation: rep,
        }
    }
}

/// A lifetime in seconds as svc-auth uses it: Keycloak's default when absent or not
/// positive, at most Keycloak's 32-bit maximum, so time arithmetic cannot overflow.
fn lifespan(value: &Value, default: i64) -> i64 {
    match value.as_i64() {
        Some(s) if s > 0 => s.min(i64::from(i32::MAX)),
        _ => default,
    }
}

/// The tenant named in a request path, which must exist and be enabled.
pub async fn enabled_tenant(state: &State, name: &str) -> Result<TenantInfo, Error> {
    let tenant = lookup(state, name)
        .await?
        .ok_or_else(|| Error::RealmNotFound(name.to_owned()))?;
    if !tenant.enabled {
        return Err(Error::RealmDisabled(name.to_owned()));
    }
    Ok(tenant)
}

pub async fn lookup(state: &State, name: &str) -> Result<Option<TenantInfo>, Error> {
    let ctx = &state.ctx;
    Ok(lookup_realm(&ctx.client, &*ctx.cache, name)
        .await?
        .map(|rep| TenantInfo::from_representation(name, rep)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifespans_are_bounded() {
        assert_eq!(lifespan(&json!(600), 300), 600);
        assert_eq!(lifespan(&json!(null), 300), 300);
        assert_eq!(lifespan(&json!(0), 1800), 1800);
        assert_eq!(lifespan(&json!(-5), 300), 300);
        assert_eq!(lifespan(&json!(i64::MAX), 300), i64::from(i32::MAX));
        assert_eq!(
            lifespan(&json!(u64::MAX), 300),
            300,
            "not an i64: the default"
        );
    }
}
