//! What svc-auth knows of a client: asked of svc-apps' internal route and cached briefly. The
//! secret never leaves svc-apps; its SHA-256 does, and a presented secret is hashed and
//! compared in constant time (secrets are high-entropy, so no slow hash is needed here).

use std::sync::Arc;
use std::time::Duration;

use idp_shared::ServiceKind;
use idp_shared::http_client::CacheTtl;
use idp_shared::security::secrets_equal;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::State;
use crate::error::Error;

const TTL: CacheTtl = CacheTtl {
    found: Duration::from_secs(30),
    missing: Duration::from_secs(5),
};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRepresentation {
    pub id: String,
    pub client_id: String,
    pub enabled: bool,
    pub public_client: bool,
    pub bearer_only: bool,
    pub standard_flow_enabled: bool,
    pub direct_access_grants_enabled: bool,
    pub service_accounts_enabled: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Keycloak's redirect URI rule: equal, or a registered `...*` pattern the URI starts with.
pub fn redirect_matches(registered: &[String], uri: &str) -> bool {
    registered.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => uri.starts_with(prefix),
        None => r == uri,
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    pub client: ClientRepresentation,
    pub secret_sha256: Option<String>,
}

impl ClientInfo {
    /// `post.logout.redirect.uris`: `+` (the default) means the redirect URIs; otherwise a
    /// `##`-separated list of its own.
    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        let rule = self
            .client
            .attributes
            .get("post.logout.redirect.uris")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("+");
        let mut allowed: Vec<String> = Vec::new();
        for entry in rule.split("##").filter(|e| !e.is_empty()) {
            if entry == "+" {
                allowed.extend(self.client.redirect_uris.iter().cloned());
            } else {
                allowed.push(entry.to_owned());
            }
        }
        redirect_matches(&allowed, uri)
    }

    /// Whether `presented` is this client's secret; false for clients without one.
    pub fn secret_matches(&self, presented: &str) -> bool {
        let Some(expected) = self
            .secret_sha256
            .as_deref()
            .and_then(|h| hex::decode(h).ok())
        else {
            return false;
        };
        secrets_equal(&expected, &Sha256::digest(presented.as_bytes()))
    }
}

pub async fn lookup(
    state: &State,
    tenant: &str,
    client_id: &str,
) -> Result<Option<Arc<ClientInfo>>, Error> {
    if client_id.is_empty() || client_id.len() > 255 {
        return Ok(None);
    }
    let ctx = &state.ctx;
    let path = format!(
        "/internal/realms/{tenant}/clients/{}",
        utf8_percent_encode(client_id, NON_ALPHANUMERIC)
    );
    let key = idp_shared::cache_keys::client_cache_key(tenant, client_id);
    let Some(bytes) = ctx
        .client
        .cached_get(&*ctx.cache, &key, ServiceKind::Apps, &path, TTL)
        .await?
    else {
        return Ok(None);
    };
    let info = state
        .client_copies
        .get_or_parse(&key, bytes, |b| serde_json::from_slice(b))
        .map_err(|e| Error::Upstream(format!("svc-apps sent an unexpected client: {e}")))?;
    Ok(Some(info))
}
