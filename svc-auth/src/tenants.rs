//! What svc-auth knows of a tenant: asked of svc-tenants' internal route and kept in the cache
//! for a short while (misses too, briefly), so token traffic does not become tenant traffic.

use std::time::Duration;

use idp_shared::ServiceKind;
use idp_shared::http_client::CacheTtl;
use idp_shared::names::check_tenant_name;
use serde_json::Value;

use crate::State;
use crate::error::Error;
use crate::keys::Algorithm;

const TTL: CacheTtl = CacheTtl {
    found: Duration::from_secs(30),
    missing: Duration::from_secs(5),
};

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
}

impl TenantInfo {
    fn from_representation(name: &str, rep: &Value) -> TenantInfo {
        TenantInfo {
            name: name.to_owned(),
            enabled: rep["enabled"].as_bool().unwrap_or(false),
            not_before: rep["notBefore"].as_i64().unwrap_or(0),
            algorithm: rep["defaultSignatureAlgorithm"]
                .as_str()
                .and_then(Algorithm::parse)
                .unwrap_or(Algorithm::Rs256),
            access_token_lifespan: lifespan(&rep["accessTokenLifespan"]),
        }
    }
}

/// A lifetime in seconds as svc-auth uses it: Keycloak's default (300) when absent or not
/// positive, at most Keycloak's 32-bit maximum, so time arithmetic cannot overflow.
fn lifespan(value: &Value) -> i64 {
    match value.as_i64() {
        Some(s) if s > 0 => s.min(i64::from(i32::MAX)),
        _ => 300,
    }
}

fn cache_key(name: &str) -> String {
    format!("auth:tenant:{name}")
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
    if check_tenant_name(name).is_err() {
        return Ok(None);
    }
    let ctx = &state.ctx;
    let path = format!("/internal/tenants/{name}");
    let Some(bytes) = ctx
        .client
        .cached_get(
            &*ctx.cache,
            &cache_key(name),
            ServiceKind::Tenants,
            &path,
            TTL,
        )
        .await?
    else {
        return Ok(None);
    };
    let rep: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Upstream(format!("svc-tenants sent no JSON: {e}")))?;
    Ok(Some(TenantInfo::from_representation(name, &rep)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifespans_are_bounded() {
        assert_eq!(lifespan(&json!(600)), 600);
        assert_eq!(lifespan(&json!(null)), 300);
        assert_eq!(lifespan(&json!(0)), 300);
        assert_eq!(lifespan(&json!(-5)), 300);
        assert_eq!(lifespan(&json!(i64::MAX)), i64::from(i32::MAX));
        assert_eq!(lifespan(&json!(u64::MAX)), 300, "not an i64: the default");
    }
}
