//! Cache keys one service writes and another deletes when the data behind them changes.

use std::time::Duration;

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

/// The generation of a tenant's user data: svc-users sets a fresh random value after every
/// change it makes in the tenant (users, groups, role mappings), so a copy of a user taken at
/// an earlier generation is never used again.
pub fn user_generation_key(tenant: &str) -> String {
    format!("users:generation:{tenant}")
}

/// svc-auth's copy of a user as tokens need it, tagged with the generation it was read at.
pub fn user_view_cache_key(tenant: &str, user_id: &str) -> String {
    format!(
        "auth:user:{tenant}:{}",
        hex::encode(Sha256::digest(user_id.as_bytes()))
    )
}

/// How long svc-auth keeps a copy of a user.
pub const USER_VIEW_TTL: Duration = Duration::from_secs(60);

/// How long a generation lives after the last change. Longer than any copy lives: when it
/// expires (reading as "no generation" again), a copy tagged "no generation" from before
/// that change has expired too.
pub const USER_GENERATION_TTL: Duration = Duration::from_secs(300);
