//! Cache keys one service writes and another deletes when the data behind them changes.

use sha2::{Digest, Sha256};

/// svc-auth's copy of a client (svc-apps deletes it on every change of the client).
pub fn client_cache_key(tenant: &str, client_id: &str) -> String {
    format!(
        "auth:client:{tenant}:{}",
        hex::encode(Sha256::digest(client_id.as_bytes()))
    )
}

/// The gateway's copy of a tenant's allowed browser origins (svc-apps deletes it on every
/// change of any of the tenant's apps).
pub fn web_origins_cache_key(tenant: &str) -> String {
    format!("gateway:web-origins:{tenant}")
}
