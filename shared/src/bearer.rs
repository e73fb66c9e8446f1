//! Bearer-token verification, the same in the gateway (before any service sees a request) and
//! in every service (nothing trusts identity headers).
//!
//! In order: size; header (`typ`, `alg` on the allow-list, `kid`); issuer among the tenants the
//! route accepts (it only picks the key set: nothing is trusted before the signature); key by
//! `kid` from the tenant's JWKS (cached, refetched on an unknown `kid` with a cooldown), whose
//! `alg` must equal the header's; signature; expiry and not-before with a small leeway; access
//! tokens only; revocation in the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, EdDSA, JwsVerifier, PS256, RS256};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::ServiceKind;
use crate::cache::SharedCache;
use crate::config::Settings;
use crate::error::ErrorInfo;
use crate::http_client::ServiceClient;

/// The signature algorithms tokens may use: asymmetric only, never `none`, never HMAC.
pub const ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 30;
/// An unknown `kid` refetches a tenant's JWKS at most this often.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(10);
/// A tenant's JWKS is read again after this long even when every `kid` is known.
const JWKS_MAX_AGE: Duration = Duration::from_secs(300);
/// A tenant's `notBefore` (Keycloak's push-revocation) is read again after this long.
pub const NOT_BEFORE_MAX_AGE: Duration = Duration::from_secs(2);
/// Access tokens whose signature this process has checked, remembered until they expire.
const VERIFIED_MEMO_ENTRIES: usize = 10_000;

/// Cache key under which svc-auth marks a revoked token id.
pub fn revoked_token_key(jti: &str) -> String {
    format!("revoked:jti:{jti}")
}

/// Cache key under which svc-auth marks a revoked session.
pub fn revoked_session_key(sid: &str) -> String {
    format!("revoked:sid:{sid}")
}

/// Who a verified access token speaks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub tenant: String,
    pub subject: String,
    /// `azp`: the client the token was issued to.
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub realm_roles: Vec<String>,
    pub client_roles: HashMap<String, Vec<String>>,
    pub session_id: Option<String>,
    pub token_id: Option<String>,
    pub expires_at: i64,
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("a bearer token is required")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    #[error("the token was issued by a realm this route does not accept")]
    Issuer,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("only access tokens are accepted")]
    NotAccessToken,
    #[error("the token is not of the expected type")]
    WrongType,
    #[error("the token has been revoked")]
    Revoked,
    /// Keys or revocations could not be read; the text is for the log.
    #[error("token keys unavailable: {0}")]
    Unavailable(String),
}

impl BearerError {
    pub fn info(&self) -> ErrorInfo {
        match self {
            BearerError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "bearer verification unavailable");
                ErrorInfo::unavailable("token verification is unavailable; retry shortly")
            }
            BearerError::Missing => ErrorInfo::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                self.to_string(),
            ),
            other => ErrorInfo::new(StatusCode::UNAUTHORIZED, "invalid_token", other.to_string()),
        }
    }
}

/// The `Authorization: Bearer` value of a request, if any.
pub fn bearer_token(headers: &actix_web::http::header::HeaderMap) -> Result<&str, BearerError> {
    let value = headers
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(BearerError::Missing)?
        .to_str()
        .map_err(|_| BearerError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(BearerError::Missing);
    }
    Ok(token.trim())
}

struct KeySet {
    verifiers: HashMap<String, (String, Arc<dyn JwsVerifier>)>,
    fetched: Instant,
}

pub struct BearerVerifier {
    client: ServiceClient,
    public_url: String,
    cache: SharedCache,
    sets: Mutex<HashMap<String, KeySet>>,
    fetching: tokio::sync::Mutex<()>,
    /// Per tenant: its `notBefore` (seconds) and when it was read.
    not_before: Mutex<HashMap<String, (i64, Instant)>>,
    /// Access tokens already verified, by the SHA-256 of the token. A client sends the same
    /// token for minutes; checking its signature and parsing it again each time was the
    /// largest part of the gateway's own work. Expiry, tenant, not-before and revocation are
    /// still checked on every request.
    verified: Mutex<HashMap<[u8; 32], Verified>>,
}

#[derive(Clone)]
struct Verified {
    principal: Principal,
    issued_at: i64,
}

impl BearerVerifier {
    pub fn new(settings: &Settings, client: ServiceClient, cache: SharedCache) -> Self {
        BearerVerifier {
            client,
            public_url: settings.public_url(),
            cache,
            sets: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
            not_before: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/realms/{tenant}", self.public_url)
    }

    /// Verifies an access token issued by one of `tenants`; `now` is seconds since the epoch.
    pub async fn verify(
        &self,
        token: &str,
        tenants: &[&str],
        now: i64,
    ) -> Result<Principal, BearerError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let known = self.remembered(&digest, tenants, now);
        let Verified {
            principal,
            issued_at,
        } = match known {
            Some(known) => known,
            None => {
                let (tenant, claims) = self
                    .verify_signed(token, tenants, now, "Bearer", true)
                    .await
                    .map_err(|e| match e {
                        BearerError::WrongType => BearerError::NotAccessToken,
                        other => other,
                    })?;
                let exp = claims
                    .get("exp")
                    .and_then(Value::as_i64)
                    .ok_or(BearerError::Malformed)?;
                let verified = Verified {
                    principal: principal(&tenant, &claims, exp)?,
                    issued_at: claims.get("iat").and_then(Value::as_i64).unwrap_or(0),
                };
                self.remember(digest, &verified, now);
                verified
            }
        };
        // Tokens issued before the tenant's not-before (push-revocation) are revoked.
        let not_before = self.tenant_not_before(&principal.tenant).await;
        if not_before > 0 && issued_at < not_before {
            return Err(BearerError::Revoked);
        }
        self.check_revocation(&principal).await?;
        Ok(principal)
    }

    /// A token verified before, when it is still within its lifetime and from a tenant this
    /// route accepts.
    fn remembered(&self, digest: &[u8; 32], tenants: &[&str], now: i64) -> Option<Verified> {
        let memo = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        memo.get(digest)
            .filter(|v| now <= v.principal.expires_at + LEEWAY_SECS)
            .filter(|v| tenants.contains(&v.principal.tenant.as_str()))
            .cloned()
    }

    fn remember(&self, digest: [u8; 32], verified: &Verified, now: i64) {
        let mut memo = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if memo.len() >= VERIFIED_MEMO_ENTRIES {
            memo.retain(|_, v| now <= v.principal.expires_at + LEEWAY_SECS);
            if memo.len() >= VERIFIED_MEMO_ENTRIES {
                memo.clear();
            }
        }
        memo.insert(digest, verified.clone());
    }

    /// The tenant's `notBefore`, kept per process for [`NOT_BEFORE_MAX_AGE`]. When svc-tenants
    /// cannot be asked, the last value read stands (logged).
    async fn tenant_not_before(&self, tenant: &str) -> i64 {
        let known = {
            let memo = self.not_before.lock().unwrap_or_else(|p| p.into_inner());
            memo.get(tenant).copied()
        };
        if let Some((value, read)) = known
            && read.elapsed() < NOT_BEFORE_MAX_AGE
        {
            return value;
        }
        let value = match crate::realms::lookup_realm(&self.client, &*self.cache, tenant).await {
            Ok(Some(realm)) => realm["notBefore"].as_i64().unwrap_or(0),
            Ok(None) => 0,
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "realm not-before unavailable");
                known.map_or(0, |(v, _)| v)
            }
        };
        self.not_before
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tenant.to_owned(), (value, Instant::now()));
        value
    }

    /// Checks a token of type `typ` ("Bearer", "ID", ...) issued by one of `tenants`: header,
    /// issuer, key, signature, not-before, and expiry when `check_expiry` (a logout's
    /// `id_token_hint` may have expired). Returns the issuing tenant and the claims; nothing
    /// about revocation.
    pub async fn verify_signed(
        &self,
        token: &str,
        tenants: &[&str],
        now: i64,
        typ: &str,
        check_expiry: bool,
    ) -> Result<(String, Map<String, Value>), BearerError> {
        if token.len() > MAX_TOKEN_BYTES || token.split('.').count() != 3 {
            return Err(BearerError::Malformed);
        }
        let header = segment_json(token, 0)?;
        if header
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(BearerError::Malformed);
        }
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .filter(|a| ALGORITHMS.contains(a))
            .ok_or(BearerError::Algorithm)?;
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(BearerError::UnknownKey)?;
        let claimed_issuer = segment_json(token, 1)?
            .get("iss")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(BearerError::Malformed)?;
        let tenant = tenants
            .iter()
            .find(|t| self.issuer(t) == claimed_issuer)
            .ok_or(BearerError::Issuer)?;

        let (key_alg, verifier) = self.key(tenant, kid).await?;
        if key_alg != alg {
            return Err(BearerError::Algorithm);
        }
        let (payload, _) = josekit::jwt::decode_with_verifier(token, &*verifier)
            .map_err(|_| BearerError::Signature)?;
        let claims = payload.claims_set();

        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(BearerError::Malformed)?;
        if check_expiry && now > exp + LEEWAY_SECS {
            return Err(BearerError::Expired);
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| now + LEEWAY_SECS < nbf)
        {
            return Err(BearerError::NotYetValid);
        }
        if claims.get("typ").and_then(Value::as_str) != Some(typ) {
            return Err(BearerError::WrongType);
        }
        Ok(((*tenant).to_owned(), claims.clone()))
    }

    async fn check_revocation(&self, p: &Principal) -> Result<(), BearerError> {
        let keys = p
            .token_id
            .iter()
            .map(|j| revoked_token_key(j))
            .chain(p.session_id.iter().map(|s| revoked_session_key(s)));
        for key in keys {
            let hit = self
                .cache
                .get(&key)
                .await
                .map_err(|e| BearerError::Unavailable(e.to_string()))?;
            if hit.is_some() {
                return Err(BearerError::Revoked);
            }
        }
        Ok(())
    }

    /// The verifier for `kid`, reading the tenant's JWKS when the key is unknown (at most once
    /// per cooldown) or the copy is old.
    async fn key(
        &self,
        tenant: &str,
        kid: &str,
    ) -> Result<(String, Arc<dyn JwsVerifier>), BearerError> {
        if let Some(found) = self.cached_key(tenant, kid, true) {
            return Ok(found);
        }
        let _one_fetch = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(found) = self.cached_key(tenant, kid, true) {
            return Ok(found);
        }
        let recently = {
            let sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
            sets.get(tenant)
                .is_some_and(|s| s.fetched.elapsed() < REFETCH_COOLDOWN)
        };
        if recently {
            return self
                .cached_key(tenant, kid, false)
                .ok_or(BearerError::UnknownKey);
        }
        let verifiers = self.fetch(tenant).await?;
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        sets.insert(
            tenant.to_owned(),
            KeySet {
                verifiers,
                fetched: Instant::now(),
            },
        );
        sets[tenant]
            .verifiers
            .get(kid)
            .cloned()
            .ok_or(BearerError::UnknownKey)
    }

    fn cached_key(
        &self,
        tenant: &str,
        kid: &str,
        fresh_only: bool,
    ) -> Option<(String, Arc<dyn JwsVerifier>)> {
        let sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        let set = sets.get(tenant)?;
        if fresh_only && set.fetched.elapsed() > JWKS_MAX_AGE {
            return None;
        }
        set.verifiers.get(kid).cloned()
    }

    async fn fetch(
        &self,
        tenant: &str,
    ) -> Result<HashMap<String, (String, Arc<dyn JwsVerifier>)>, BearerError> {
        let unavailable = |e: String| BearerError::Unavailable(format!("JWKS of {tenant}: {e}"));
        let reply = self
            .client
            .request(
                reqwest::Method::GET,
                ServiceKind::Auth,
                &format!("/realms/{tenant}/protocol/openid-connect/certs"),
            )
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if reply.status().as_u16() == 404 {
            return Ok(HashMap::new());
        }
        if !reply.status().is_success() {
            return Err(unavailable(format!("answered {}", reply.status())));
        }
        let body: Value = reply.json().await.map_err(|e| unavailable(e.to_string()))?;
        let mut verifiers = HashMap::new();
        for key in body["keys"].as_array().into_iter().flatten() {
            let Some(map) = key.as_object() else { continue };
            let (Some(kid), Some(alg)) = (
                map.get("kid").and_then(Value::as_str),
                map.get("alg").and_then(Value::as_str),
            ) else {
                continue;
            };
            if map
                .get("use")
                .and_then(Value::as_str)
                .is_some_and(|u| u != "sig")
            {
                continue;
            }
            let Ok(jwk) = Jwk::from_map(map.clone()) else {
                continue;
            };
            if let Some(v) = verifier_for(alg, &jwk) {
                verifiers.insert(kid.to_owned(), (alg.to_owned(), v));
            }
        }
        Ok(verifiers)
    }
}

/// A verifier for a published key of an allowed algorithm.
fn verifier_for(alg: &str, jwk: &Jwk) -> Option<Arc<dyn JwsVerifier>> {
    Some(match alg {
        "RS256" => Arc::new(RS256.verifier_from_jwk(jwk).ok()?),
        "PS256" => Arc::new(PS256.verifier_from_jwk(jwk).ok()?),
        "ES256" => Arc::new(ES256.verifier_from_jwk(jwk).ok()?),
        "EdDSA" => Arc::new(EdDSA.verifier_from_jwk(jwk).ok()?),
        _ => return None,
    })
}

/// The JSON of a token segment, unverified (header, or payload only to pick the key set).
fn segment_json(token: &str, index: usize) -> Result<Map<String, Value>, BearerError> {
    let segment = token.split('.').nth(index).ok_or(BearerError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| BearerError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| BearerError::Malformed)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn principal(
    tenant: &str,
    claims: &Map<String, Value>,
    exp: i64,
) -> Result<Principal, BearerError> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let client_roles = claims
        .get("resource_access")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(client, access)| (client.clone(), strings(access.get("roles"))))
                .collect()
        })
        .unwrap_or_default();
    Ok(Principal {
        tenant: tenant.to_owned(),
        subject: text("sub").ok_or(BearerError::Malformed)?,
        client_id: text("azp"),
        username: text("preferred_username"),
        realm_roles: strings(claims.get("realm_access").and_then(|r| r.get("roles"))),
        client_roles,
        session_id: text("sid"),
        token_id: text("jti"),
        expires_at: exp,
        scope: text("scope").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_token_keeps_its_tenant_and_lifetime() {
        let settings = Settings::load_from(HashMap::new()).unwrap();
        let verifier = BearerVerifier::new(
            &settings,
            ServiceClient::new(&settings).unwrap(),
            Arc::new(crate::cache::MemoryCache::new("t:")),
        );
        let claims = serde_json::json!({"sub": "u1", "jti": "j1"});
        let verified = Verified {
            principal: principal("acme", claims.as_object().unwrap(), 1_000).unwrap(),
            issued_at: 900,
        };
        let digest = [7u8; 32];
        verifier.remember(digest, &verified, 950);
        let hit = verifier
            .remembered(&digest, &["acme", "master"], 950)
            .unwrap();
        assert_eq!(hit.principal.subject, "u1");
        assert_eq!(hit.issued_at, 900);
        assert!(
            verifier.remembered(&digest, &["other"], 950).is_none(),
            "another tenant's route"
        );
        assert!(
            verifier
                .remembered(&digest, &["acme"], 1_000 + LEEWAY_SECS + 1)
                .is_none(),
            "expired"
        );
        assert!(verifier.remembered(&[8u8; 32], &["acme"], 950).is_none());
    }

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn bearer_values_are_parsed_strictly() {
        let mut headers = actix_web::http::header::HeaderMap::new();
        assert_eq!(bearer_token(&headers), Err(BearerError::Missing));
        headers.insert(
            actix_web::http::header::AUTHORIZATION,
            "Bearer abc.def.ghi".parse().unwrap(),
        );
        assert_eq!(bearer_token(&headers), Ok("abc.def.ghi"));
        headers.insert(
            actix_web::http::header::AUTHORIZATION,
            "Basic eDp5".parse().unwrap(),
        );
        assert_eq!(bearer_token(&headers), Err(BearerError::Missing));
    }

    #[test]
    fn segments_decode_or_are_malformed() {
        let t = token(r#"{"alg":"none"}"#, r#"{"iss":"x"}"#);
        assert_eq!(segment_json(&t, 0).unwrap()["alg"], "none");
        assert_eq!(segment_json("a.b.c", 0), Err(BearerError::Malformed));
    }

    #[test]
    fn claims_become_a_principal() {
        let claims: Map<String, Value> = serde_json::from_str(
            r#"{"sub":"u1","azp":"web","preferred_username":"bob","sid":"s1","jti":"j1",
                "realm_access":{"roles":["admin"]},
                "resource_access":{"realm-management":{"roles":["view-users"]}},"scope":"email"}"#,
        )
        .unwrap();
        let p = principal("acme", &claims, 99).unwrap();
        assert_eq!(p.realm_roles, vec!["admin"]);
        assert_eq!(p.client_roles["realm-management"], vec!["view-users"]);
        assert_eq!(p.client_id.as_deref(), Some("web"));
        assert_eq!(p.session_id.as_deref(), Some("s1"));
        let no_sub: Map<String, Value> = serde_json::from_str(r#"{"azp":"x"}"#).unwrap();
        assert!(principal("acme", &no_sub, 1).is_err());
    }
}
