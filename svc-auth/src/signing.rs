//! A tenant's key ring: the keys JWKS publishes, and a key that signs with the tenant's
//! algorithm, made on first need. Replicas racing to make the first key may both make one;
//! both are published and valid, and the newest signs.

use idp_shared::names::now_millis;

use crate::State;
use crate::error::Error;
use crate::keys;
use crate::store::{self, SigningKeyRow};
use crate::tenants::TenantInfo;

/// Published keys of the tenant, with at least one active key of its algorithm.
pub async fn key_ring(state: &State, tenant: &TenantInfo) -> Result<Vec<SigningKeyRow>, Error> {
    let now = now_millis();
    let keys = published(state, tenant, now).await?;
    if active_key(&keys, tenant, now).is_some() {
        return Ok(keys);
    }
    // One maker per process at a time; re-check after waiting, another task may have made it.
    let _guard = state.key_maker.lock().await;
    let keys = published(state, tenant, now).await?;
    if active_key(&keys, tenant, now).is_some() {
        return Ok(keys);
    }
    let (secrets, name, algorithm) = (state.secrets.clone(), tenant.name.clone(), tenant.algorithm);
    let row =
        tokio::task::spawn_blocking(move || keys::generate(&name, algorithm, &secrets, now, now))
            .await
            .map_err(|e| Error::Upstream(format!("key generation task: {e}")))?
            .map_err(keys::KeyError::from)?;
    tracing::info!(tenant = %tenant.name, kid = %row.kid, algorithm = %row.algorithm, "created a signing key");
    state
        .ctx
        .db
        .run(move |conn| store::insert_key(conn, &row))
        .await?;
    published(state, tenant, now).await
}

async fn published(
    state: &State,
    tenant: &TenantInfo,
    now: i64,
) -> Result<Vec<SigningKeyRow>, Error> {
    let name = tenant.name.clone();
    Ok(state
        .ctx
        .db
        .run(move |conn| store::published_keys(conn, &name, now))
        .await?)
}

/// The key that signs now: the newest active one of the tenant's algorithm.
pub fn active_key<'a>(
    keys: &'a [SigningKeyRow],
    tenant: &TenantInfo,
    now: i64,
) -> Option<&'a SigningKeyRow> {
    keys.iter()
        .filter(|k| k.algorithm == tenant.algorithm.name() && k.active_from <= now)
        .max_by_key(|k| k.active_from)
}
