//! A tenant's realm representation as the other services read it: asked of svc-tenants'
//! internal route and kept in the cache briefly (misses too), so token and login traffic does
//! not become tenant traffic. svc-tenants deletes the key on every change.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::ServiceKind;
use crate::cache::Cache;
use crate::http_client::{CacheTtl, LookupError, ServiceClient};
use crate::names::check_tenant_name;

const TTL: CacheTtl = CacheTtl {
    found: Duration::from_secs(30),
    missing: Duration::from_secs(5),
};

/// The cache key of a tenant's realm representation.
pub fn realm_cache_key(name: &str) -> String {
    format!("realm:{name}")
}

/// The realm representation of `name` (defaults included), or None when there is no such
/// tenant (or the name is not a valid one). Parsed once per change, not per request.
pub async fn lookup_realm(
    client: &ServiceClient,
    cache: &dyn Cache,
    name: &str,
) -> Result<Option<Arc<Value>>, LookupError> {
    if check_tenant_name(name).is_err() {
        return Ok(None);
    }
    let path = format!("/internal/tenants/{name}");
    let Some(bytes) = client
        .cached_get(
            cache,
            &realm_cache_key(name),
            ServiceKind::Tenants,
            &path,
            TTL,
        )
        .await?
    else {
        return Ok(None);
    };
    client
        .realms
        .get_or_parse(name, bytes, |b| serde_json::from_slice(b))
        .map(Some)
        .map_err(|e| LookupError::Upstream {
            service: ServiceKind::Tenants,
            cause: format!("no JSON: {e}"),
        })
}

/// An integer setting of a realm, or `default` when absent or out of `0..=i32::MAX`.
pub fn setting_i64(realm: &Value, key: &str, default: i64) -> i64 {
    realm[key]
        .as_i64()
        .filter(|v| (0..=i64::from(i32::MAX)).contains(v))
        .unwrap_or(default)
}
