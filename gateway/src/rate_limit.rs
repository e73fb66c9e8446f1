//! Rate limits per client address, tenant and route group (GCRA in the shared cache, so every
//! gateway replica enforces one limit). A flood on one tenant or from one address spends only
//! its own bucket.

use std::net::IpAddr;
use std::time::Duration;

use idp_shared::cache::Cache;
use idp_shared::config::{RateLimit, RateLimitSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteGroup {
    Token,
    Login,
    Admin,
}

impl RouteGroup {
    pub fn name(self) -> &'static str {
        match self {
            RouteGroup::Token => "token",
            RouteGroup::Login => "login",
            RouteGroup::Admin => "admin",
        }
    }

    /// The group of a path (relative path removed); None for paths without a limit
    /// (discovery, keys, health).
    pub fn of(path: &str) -> Option<RouteGroup> {
        let oidc = path
            .strip_prefix("/realms/")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(_, rest)| rest.strip_prefix("protocol/openid-connect/"));
        match oidc {
            Some(p) if p.starts_with("token") || p == "revoke" => return Some(RouteGroup::Token),
            Some(p) if p.starts_with("auth") || p.starts_with("login") => {
                return Some(RouteGroup::Login);
            }
            Some(_) => return None,
            None => {}
        }
        if path.contains("/.well-known/") {
            return None;
        }
        if path == "/token" || path.starts_with("/token/") || path == "/refreshtoken" {
            Some(RouteGroup::Token)
        } else if path.starts_with("/authn/") || path.contains("/kobil-magic-link/") {
            Some(RouteGroup::Login)
        } else if path.starts_with("/admin/")
            || path.starts_with("/nevisidm/")
            || (path.starts_with("/realms/") && path.matches('/').count() > 2)
        {
            Some(RouteGroup::Admin)
        } else {
            None
        }
    }

    fn limit(self, settings: &RateLimitSettings) -> RateLimit {
        match self {
            RouteGroup::Token => settings.token,
            RouteGroup::Login => settings.login,
            RouteGroup::Admin => settings.admin,
        }
    }
}

/// None when the request may pass, else how long the client should wait. A cache failure
/// lets the request through (logged): losing the limit briefly is better than losing the
/// platform.
pub async fn check(
    cache: &dyn Cache,
    settings: &RateLimitSettings,
    group: RouteGroup,
    tenant: &str,
    client: IpAddr,
) -> Option<Duration> {
    if !settings.enabled {
        return None;
    }
    let limit = group.limit(settings);
    let interval = Duration::from_micros(60_000_000 / u64::from(limit.per_minute.max(1)));
    let key = format!("ratelimit:{}:{tenant}:{client}", group.name());
    match cache.throttle(&key, interval, limit.burst).await {
        Ok(wait) => wait,
        Err(e) => {
            tracing::warn!(error = %e, "rate limit unavailable; request let through");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_their_groups() {
        use RouteGroup::*;
        for (path, group) in [
            ("/realms/acme/protocol/openid-connect/token", Some(Token)),
            (
                "/realms/acme/protocol/openid-connect/token/introspect",
                Some(Token),
            ),
            ("/realms/acme/protocol/openid-connect/revoke", Some(Token)),
            ("/token/sign", Some(Token)),
            ("/realms/acme/protocol/openid-connect/auth", Some(Login)),
            ("/authn/login", Some(Login)),
            ("/realms/acme/kobil-magic-link/access-link", Some(Login)),
            ("/admin/realms/acme/users", Some(Admin)),
            ("/realms/acme/v3_user/count", Some(Admin)),
            (
                "/nevisidm/api/core/v1/acme/users/u/credentials",
                Some(Admin),
            ),
            ("/realms/acme/protocol/openid-connect/certs", None),
            ("/realms/acme/.well-known/openid-configuration", None),
            ("/realms/acme", None),
        ] {
            assert_eq!(RouteGroup::of(path), group, "{path}");
        }
    }
}
