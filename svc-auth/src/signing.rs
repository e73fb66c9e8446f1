//! A tenant's key ring: the keys JWKS publishes, and a key that signs with the tenant's
//! algorithm, made on first need. Replicas racing to make the first key may both make one;
//! both are published and valid, and the newest signs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use josekit::jws::JwsSigner;

use crate::State;
use crate::error::Error;
use crate::keys;
use crate::store::{self, SigningKeyRow};
use crate::tenants::TenantInfo;

/// Published keys of the tenant, with at least one active key of its algorithm.
pub async fn key_ring(
    state: &State,
    tenant: &TenantInfo,
    now: i64,
) -> Result<Vec<SigningKeyRow>, Error> {
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
    // The first key of an algorithm signs at once: there is nothing to roll over from, and
    // requests racing to make it (each with its own clock reading) must all see it as active.
    let row =
        tokio::task::spawn_blocking(move || keys::generate(&name, algorithm, &secrets, now, 0))
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

/// How long a process trusts its copy of a tenant's key ring before reading it again.
const RING_TTL_MS: i64 = 10_000;

/// Per-process copies of key rings and of unsealed signers, so the token path neither queries
/// the database nor parses a private key on every request.
#[derive(Default)]
pub struct SignerCache {
    rings: Mutex<HashMap<String, (i64, Vec<SigningKeyRow>)>>,
    signers: Mutex<HashMap<String, Arc<dyn JwsSigner>>>,
    /// HS256 signers of refresh tokens by tenant (their keys are derived, never stored).
    refresh_signers: Mutex<HashMap<String, Arc<dyn JwsSigner>>>,
}

impl SignerCache {
    fn ring(&self, tenant: &str, now: i64) -> Option<Vec<SigningKeyRow>> {
        let rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        rings
            .get(tenant)
            .filter(|(at, _)| now - at < RING_TTL_MS)
            .map(|(_, ring)| ring.clone())
    }

    fn forget_ring(&self, tenant: &str) {
        let mut rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        rings.remove(tenant);
    }

    fn keep_ring(&self, tenant: &str, now: i64, ring: Vec<SigningKeyRow>) {
        let mut rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        rings.insert(tenant.to_owned(), (now, ring));
    }

    fn signer(&self, kid: &str) -> Option<Arc<dyn JwsSigner>> {
        let signers = self.signers.lock().unwrap_or_else(|p| p.into_inner());
        signers.get(kid).cloned()
    }

    fn keep_signer(&self, kid: &str, signer: Arc<dyn JwsSigner>) {
        let mut signers = self.signers.lock().unwrap_or_else(|p| p.into_inner());
        signers.insert(kid.to_owned(), signer);
    }

    /// The tenant's refresh-token signer, derived on first use.
    pub fn refresh_signer(
        &self,
        tenant: &str,
        derive: impl FnOnce() -> Result<Arc<dyn JwsSigner>, Error>,
    ) -> Result<Arc<dyn JwsSigner>, Error> {
        let mut signers = self
            .refresh_signers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(signer) = signers.get(tenant) {
            return Ok(signer.clone());
        }
        let signer = derive()?;
        signers.insert(tenant.to_owned(), signer.clone());
        Ok(signer)
    }
}

/// The tenant's signing key now: its `kid` and a signer.
pub async fn active_signer(
    state: &State,
    tenant: &TenantInfo,
    now: i64,
) -> Result<(String, Arc<dyn JwsSigner>), Error> {
    let ring = match state.signer_cache.ring(&tenant.name, now) {
        Some(ring) if active_key(&ring, tenant, now).is_some() => ring,
        _ => {
            let ring = key_ring(state, tenant, now).await?;
            state
                .signer_cache
                .keep_ring(&tenant.name, now, ring.clone());
            ring
        }
    };
    let key = active_key(&ring, tenant, now)
        .ok_or_else(|| Error::Upstream(format!("no active signing key for {}", tenant.name)))?;
    if let Some(signer) = state.signer_cache.signer(&key.kid) {
        return Ok((key.kid.clone(), signer));
    }
    let signer: Arc<dyn JwsSigner> = Arc::from(keys::signer(key, &state.secrets)?);
    state.signer_cache.keep_signer(&key.kid, signer.clone());
    Ok((key.kid.clone(), signer))
}

/// How long a rotated-in key is published before it signs. It must exceed both the verifiers'
/// JWKS refetch cooldown (10 s) and this service's ring cache (10 s): then a verifier that
/// meets the new `kid` has either fetched it already or may fetch again.
pub const PUBLISH_LEAD_MS: i64 = 30_000;

/// Slack on top of the access-token lifetime before an old key leaves the JWKS.
const RETIRE_SLACK_MS: i64 = 60_000;

/// Rotates the tenant's signing key: a new key of the tenant's algorithm is published now and
/// signs from `now + lead_ms`; every older key stays published until the last token it may
/// still sign has expired. Returns the new key's id.
pub async fn rotate(
    state: &State,
    tenant: &TenantInfo,
    now: i64,
    lead_ms: i64,
) -> Result<String, Error> {
    let _guard = state.key_maker.lock().await;
    let active_from = now.saturating_add(lead_ms.max(0));
    let (secrets, name, algorithm) = (state.secrets.clone(), tenant.name.clone(), tenant.algorithm);
    let row = tokio::task::spawn_blocking(move || {
        keys::generate(&name, algorithm, &secrets, now, active_from)
    })
    .await
    .map_err(|e| Error::Upstream(format!("key generation task: {e}")))?
    .map_err(keys::KeyError::from)?;
    let kid = row.kid.clone();
    let retire_at = active_from
        .saturating_add(tenant.access_token_lifespan.saturating_mul(1000))
        .saturating_add(RETIRE_SLACK_MS);
    state
        .ctx
        .db
        .run(move |conn| store::rotate_in(conn, &row, retire_at))
        .await?;
    state.signer_cache.forget_ring(&tenant.name);
    tracing::info!(tenant = %tenant.name, kid = %kid, active_from, retire_at, "rotated the signing key");
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Algorithm;

    fn row(kid: &str, algorithm: &str, active_from: i64, retired_at: Option<i64>) -> SigningKeyRow {
        SigningKeyRow {
            kid: kid.into(),
            tenant: "acme".into(),
            algorithm: algorithm.into(),
            private_key_sealed: String::new(),
            public_jwk: String::new(),
            public_key_der: String::new(),
            created_at: 0,
            active_from,
            retired_at,
        }
    }

    fn tenant(algorithm: Algorithm) -> TenantInfo {
        TenantInfo::from_representation(
            "acme",
            Arc::new(
                serde_json::json!({"enabled": true, "defaultSignatureAlgorithm": algorithm.name()}),
            ),
        )
    }

    #[test]
    fn the_old_key_signs_until_the_new_one_is_due() {
        let keys = vec![
            row("new", "RS256", 1_000, None),
            row("old", "RS256", 0, Some(400_000)),
        ];
        let t = tenant(Algorithm::Rs256);
        assert_eq!(active_key(&keys, &t, 999).unwrap().kid, "old");
        assert_eq!(active_key(&keys, &t, 1_000).unwrap().kid, "new");
    }

    #[test]
    fn only_keys_of_the_tenants_algorithm_sign() {
        let keys = vec![row("ec", "ES256", 0, None), row("rsa", "RS256", 0, None)];
        assert_eq!(
            active_key(&keys, &tenant(Algorithm::Es256), 5).unwrap().kid,
            "ec"
        );
        assert!(active_key(&keys, &tenant(Algorithm::EdDsa), 5).is_none());
    }
}
