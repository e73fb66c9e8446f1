//! Authorization codes (RFC 6749 §4.1, PKCE RFC 7636): issued by the authorization endpoint,
//! kept in the shared cache under the SHA-256 of the code, taken exactly once by the token
//! endpoint. A code presented again ends the session its first use started (RFC 6749 §4.1.2:
//! the tokens issued for it are revoked).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_shared::security::{random_token, secrets_equal};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::State;
use crate::clients::ClientInfo;
use crate::error::Error;
use crate::sessions::SsoLink;
use crate::tenants::TenantInfo;
use crate::{sessions, sso, users};

/// What a code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub tenant: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// PKCE S256 challenge; required for public clients when the code is issued.
    pub code_challenge: Option<String>,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// The browser sign-in the code was issued from (the hosted login page); None for codes
    /// minted otherwise.
    #[serde(default)]
    pub sso: Option<SsoLink>,
}

fn key(code: &str) -> String {
    format!("authcode:{}", hex::encode(Sha256::digest(code.as_bytes())))
}

fn spent_key(code: &str) -> String {
    format!(
        "authcode-spent:{}",
        hex::encode(Sha256::digest(code.as_bytes()))
    )
}

/// Stores a code for `lifespan_secs` (the realm's accessCodeLifespan) and returns it.
pub async fn issue(
    state: &State,
    code: &AuthorizationCode,
    lifespan_secs: u64,
) -> Result<String, Error> {
    let value = random_token(32);
    let bytes = serde_json::to_vec(code).map_err(|e| Error::Upstream(e.to_string()))?;
    state
        .ctx
        .cache
        .set(
            &key(&value),
            &bytes,
            Duration::from_secs(lifespan_secs.max(1)),
        )
        .await?;
    Ok(value)
}

/// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) equals the challenge; the verifier is 43 to 128
/// unreserved characters.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && secrets_equal(computed.as_bytes(), challenge.as_bytes())
}

/// The authorization_code grant: spends the code, checks client, redirect URI and PKCE, and
/// starts the session.
pub async fn redeem(
    state: &State,
    tenant: &TenantInfo,
    client: &ClientInfo,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: i64,
) -> Result<Value, Error> {
    let invalid = |m: &str| Error::InvalidGrant(m.to_owned());
    if code.is_empty() || code.len() > 512 {
        return Err(invalid("Code not valid"));
    }
    let Some(bytes) = state.ctx.cache.take(&key(code)).await? else {
        // Spent before: whoever holds the first tokens may be an attacker; end that session.
        if let Some(session) = state.ctx.cache.get(&spent_key(code)).await? {
            let session = String::from_utf8_lossy(&session).into_owned();
            tracing::warn!(tenant = %tenant.name, "authorization code replayed; its session ended");
            sessions::end_sessions(state, tenant, Some(&session), None, now).await?;
        }
        return Err(invalid("Code not valid"));
    };
    let stored: AuthorizationCode =
        serde_json::from_slice(&bytes).map_err(|_| invalid("Code not valid"))?;
    if stored.tenant != tenant.name || stored.expires_at <= now {
        return Err(invalid("Code not valid"));
    }
    if stored.client_id != client.client.client_id {
        return Err(invalid("Code was issued to another client"));
    }
    if redirect_uri != Some(stored.redirect_uri.as_str()) {
        return Err(invalid("Incorrect redirect_uri"));
    }
    match (&stored.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (Some(_), _) => return Err(invalid("PKCE verification failed")),
        (None, Some(_)) => return Err(invalid("PKCE verifier given but no challenge was")),
        (None, None) if client.client.public_client => {
            return Err(invalid("PKCE is required for public clients"));
        }
        (None, None) => {}
    }
    let user = users::by_id(state, &tenant.name, &stored.user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(|| invalid("User not found or disabled"))?;
    // Signed out between the code and its exchange: the code is worth nothing.
    if let Some(link) = &stored.sso
        && !sso::is_live(state, tenant, &link.browser_session_id, now).await?
    {
        return Err(invalid("Session not active"));
    }
    let reply = sessions::start(
        state,
        tenant,
        client,
        &user,
        &stored.scope,
        stored.nonce.as_deref(),
        stored.sso.as_ref(),
        now,
    )
    .await?;
    if let Some(sid) = reply["session_state"].as_str() {
        // Remembered as long as a refresh could keep the session alive.
        let ttl = Duration::from_secs(tenant.session_max.max(60) as u64);
        state
            .ctx
            .cache
            .set(&spent_key(code), sid.as_bytes(), ttl)
            .await?;
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_checked_strictly() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cX"
        ));
        assert!(!pkce_matches("short", challenge));
        assert!(!pkce_matches(&format!("{verifier}!"), challenge));
    }
}
