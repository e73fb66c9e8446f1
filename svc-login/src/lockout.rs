//! Brute-force protection with Keycloak's semantics. The counters live in the shared cache
//! (Redis in production) and are updated with atomic increments, so every replica and every
//! parallel request sees and adds to the same count. Permanent lockouts are also written to
//! the database by the caller, so they survive a cache flush.
//!
//! Keys carry a per-tenant epoch: "clear all lockouts of a tenant" bumps it instead of
//! scanning the cache.

use std::time::Duration;

use idp_shared::cache::{Cache, CacheError};
use idp_shared::realms::setting_i64;
use serde_json::Value;

/// A tenant's brute-force settings (Keycloak's realm fields and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub enabled: bool,
    pub permanent: bool,
    pub failure_factor: i64,
    pub wait_increment_secs: i64,
    pub max_wait_secs: i64,
    pub quick_login_wait_secs: i64,
    pub quick_login_check_ms: i64,
    /// Failures older than this are forgotten.
    pub max_delta_secs: i64,
}

impl LockoutPolicy {
    pub fn from_realm(realm: &Value) -> LockoutPolicy {
        LockoutPolicy {
            // On unless the realm turns it off (svc-tenants' default is on too).
            enabled: realm["bruteForceProtected"].as_bool().unwrap_or(true),
            permanent: realm["permanentLockout"].as_bool().unwrap_or(false),
            failure_factor: setting_i64(realm, "failureFactor", 30).max(1),
            wait_increment_secs: setting_i64(realm, "waitIncrementSeconds", 60),
            max_wait_secs: setting_i64(realm, "maxFailureWaitSeconds", 900),
            quick_login_wait_secs: setting_i64(realm, "minimumQuickLoginWaitSeconds", 60),
            quick_login_check_ms: setting_i64(realm, "quickLoginCheckMilliSeconds", 1000),
            max_delta_secs: setting_i64(realm, "maxDeltaTimeSeconds", 43_200).max(1),
        }
    }
}

/// What one more failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    pub failures: i64,
    /// Milliseconds since the epoch before which logins are refused, if any.
    pub locked_until: Option<i64>,
    /// The failure reached the factor under permanent lockout: lock for good.
    pub lock_permanently: bool,
}

/// The lockout state of one user, as Keycloak's attack-detection route reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockoutStatus {
    pub failures: i64,
    pub locked_until: Option<i64>,
    pub last_failure: Option<i64>,
    pub last_ip: Option<String>,
}

pub struct Lockouts<'a> {
    pub cache: &'a dyn Cache,
}

impl Lockouts<'_> {
    async fn prefix(&self, tenant: &str, user_id: &str) -> Result<String, CacheError> {
        let epoch = self
            .cache
            .get(&format!("lockout:{tenant}:epoch"))
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Ok(format!("lockout:{tenant}:{epoch}:{user_id}"))
    }

    async fn number(&self, key: &str) -> Result<Option<i64>, CacheError> {
        Ok(self
            .cache
            .get(key)
            .await?
            .and_then(|b| String::from_utf8_lossy(&b).parse().ok()))
    }

    /// Milliseconds since the epoch until which the user is locked out, if now locked.
    pub async fn locked_until(
        &self,
        tenant: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<i64>, CacheError> {
        let prefix = self.prefix(tenant, user_id).await?;
        Ok(self
            .number(&format!("{prefix}:until"))
            .await?
            .filter(|until| *until > now))
    }

    /// Counts one failed attempt, atomically, and locks as Keycloak would.
    pub async fn record_failure(
        &self,
        policy: &LockoutPolicy,
        tenant: &str,
        user_id: &str,
        ip: Option<&str>,
        now: i64,
    ) -> Result<FailureOutcome, CacheError> {
        let prefix = self.prefix(tenant, user_id).await?;
        let window = Duration::from_secs(policy.max_delta_secs as u64);
        let last = self.number(&format!("{prefix}:last")).await?;
        let failures = self.cache.incr(&format!("{prefix}:n"), 1, window).await?;
        self.cache
            .set(
                &format!("{prefix}:last"),
                now.to_string().as_bytes(),
                window,
            )
            .await?;
        if let Some(ip) = ip {
            self.cache
                .set(&format!("{prefix}:ip"), ip.as_bytes(), window)
                .await?;
        }
        let quick = last.is_some_and(|last| now - last < policy.quick_login_check_ms);
        if policy.permanent && failures >= policy.failure_factor {
            return Ok(FailureOutcome {
                failures,
                locked_until: None,
                lock_permanently: true,
            });
        }
        let mut wait = if policy.permanent {
            0
        } else {
            policy.wait_increment_secs * (failures / policy.failure_factor)
        };
        if wait == 0 && quick {
            wait = policy.quick_login_wait_secs;
        }
        let wait = wait.min(policy.max_wait_secs);
        let locked_until = if wait > 0 {
            let until = now + wait * 1000;
            self.cache
                .set(
                    &format!("{prefix}:until"),
                    until.to_string().as_bytes(),
                    Duration::from_millis((wait * 1000) as u64),
                )
                .await?;
            Some(until)
        } else {
            None
        };
        Ok(FailureOutcome {
            failures,
            locked_until,
            lock_permanently: false,
        })
    }

    pub async fn status(
        &self,
        tenant: &str,
        user_id: &str,
        now: i64,
    ) -> Result<LockoutStatus, CacheError> {
        let prefix = self.prefix(tenant, user_id).await?;
        Ok(LockoutStatus {
            failures: self.number(&format!("{prefix}:n")).await?.unwrap_or(0),
            locked_until: self
                .number(&format!("{prefix}:until"))
                .await?
                .filter(|u| *u > now),
            last_failure: self.number(&format!("{prefix}:last")).await?,
            last_ip: self
                .cache
                .get(&format!("{prefix}:ip"))
                .await?
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
        })
    }

    /// Forgets one user's failures (a successful login, or an admin's clear).
    pub async fn clear(&self, tenant: &str, user_id: &str) -> Result<(), CacheError> {
        let prefix = self.prefix(tenant, user_id).await?;
        for part in ["n", "last", "until", "ip"] {
            self.cache.delete(&format!("{prefix}:{part}")).await?;
        }
        Ok(())
    }

    /// Forgets the failures of every user of the tenant.
    pub async fn clear_all(&self, tenant: &str, now: i64) -> Result<(), CacheError> {
        self.cache
            .set(
                &format!("lockout:{tenant}:epoch"),
                now.to_string().as_bytes(),
                Duration::from_secs(400 * 86_400),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use idp_shared::cache::MemoryCache;
    use serde_json::json;

    use super::*;

    fn policy(extra: Value) -> LockoutPolicy {
        let mut realm = json!({"bruteForceProtected": true, "failureFactor": 3,
            "waitIncrementSeconds": 60, "maxFailureWaitSeconds": 150,
            "quickLoginCheckMilliSeconds": 0});
        realm
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        LockoutPolicy::from_realm(&realm)
    }

    #[test]
    fn keycloak_defaults_apply() {
        let p = LockoutPolicy::from_realm(&json!({}));
        assert!(p.enabled);
        assert!(!LockoutPolicy::from_realm(&json!({"bruteForceProtected": false})).enabled);
        assert_eq!(p.failure_factor, 30);
        assert_eq!(p.max_wait_secs, 900);
        assert_eq!(p.quick_login_check_ms, 1000);
        assert_eq!(
            LockoutPolicy::from_realm(&json!({"failureFactor": 0})).failure_factor,
            1
        );
    }

    #[tokio::test]
    async fn waits_grow_with_failures_and_are_capped() {
        let cache = MemoryCache::new("t");
        let locks = Lockouts { cache: &cache };
        let p = policy(json!({}));
        let mut now = 1_000_000;
        for expected in [None, None, Some(60), Some(60), Some(60), Some(120)] {
            now += 10_000;
            let out = locks
                .record_failure(&p, "acme", "u1", Some("10.0.0.1"), now)
                .await
                .unwrap();
            assert_eq!(out.locked_until.map(|u| (u - now) / 1000), expected);
        }
        for _ in 0..6 {
            now += 10_000;
            locks
                .record_failure(&p, "acme", "u1", None, now)
                .await
                .unwrap();
        }
        let status = locks.status("acme", "u1", now).await.unwrap();
        assert_eq!(status.failures, 12);
        assert_eq!(
            status.locked_until,
            Some(now + 150_000),
            "capped at maxFailureWaitSeconds"
        );
        assert_eq!(status.last_ip.as_deref(), Some("10.0.0.1"));
        // The lock releases once its wait has passed (the clock is injected).
        assert!(
            locks
                .locked_until("acme", "u1", now + 149_000)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            locks
                .locked_until("acme", "u1", now + 150_001)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            locks
                .locked_until("acme", "u2", now)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn quick_failures_lock_briefly_and_permanent_lockout_says_so() {
        let cache = MemoryCache::new("t");
        let locks = Lockouts { cache: &cache };
        let p = policy(json!({"quickLoginCheckMilliSeconds": 1000, "failureFactor": 30}));
        let first = locks
            .record_failure(&p, "acme", "u1", None, 5_000)
            .await
            .unwrap();
        assert_eq!(first.locked_until, None);
        let second = locks
            .record_failure(&p, "acme", "u1", None, 5_400)
            .await
            .unwrap();
        assert_eq!(second.locked_until, Some(5_400 + 60_000));

        let p = policy(json!({"permanentLockout": true}));
        let mut last = None;
        for i in 0..3 {
            last = Some(
                locks
                    .record_failure(&p, "acme", "u9", None, i * 10_000)
                    .await
                    .unwrap(),
            );
        }
        assert!(last.unwrap().lock_permanently);
    }

    #[tokio::test]
    async fn clearing_forgets_one_user_or_the_whole_tenant() {
        let cache = MemoryCache::new("t");
        let locks = Lockouts { cache: &cache };
        let p = policy(json!({"failureFactor": 1}));
        for user in ["u1", "u2"] {
            locks
                .record_failure(&p, "acme", user, None, 1_000)
                .await
                .unwrap();
        }
        locks
            .record_failure(&p, "other", "u1", None, 1_000)
            .await
            .unwrap();
        locks.clear("acme", "u1").await.unwrap();
        assert_eq!(
            locks.status("acme", "u1", 1_000).await.unwrap(),
            LockoutStatus::default()
        );
        assert!(
            locks
                .locked_until("acme", "u2", 1_000)
                .await
                .unwrap()
                .is_some()
        );
        locks.clear_all("acme", 2_000).await.unwrap();
        assert!(
            locks
                .locked_until("acme", "u2", 1_000)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            locks
                .locked_until("other", "u1", 1_000)
                .await
                .unwrap()
                .is_some()
        );
    }

    /// The same counters on the in-process cache and, when configured, on Redis: parallel
    /// failures are all counted, and the lock releases once the (injected) clock passes it.
    #[tokio::test]
    async fn parallel_failures_count_and_the_lock_releases_on_every_cache() {
        for backend in idp_shared::testkit::backends() {
            let env = idp_shared::testkit::TestEnv::new(&backend).await;
            let name = backend.name();
            let p = policy(json!({"failureFactor": 2, "waitIncrementSeconds": 30,
                "maxFailureWaitSeconds": 45}));
            let now = 10_000_000;
            let mut tries = tokio::task::JoinSet::new();
            for i in 0..20 {
                let cache = env.cache.clone();
                tries.spawn(async move {
                    Lockouts { cache: &*cache }
                        .record_failure(&p, "acme", "u1", Some("10.0.0.9"), now + i)
                        .await
                        .unwrap()
                });
            }
            let mut counts: Vec<i64> = tries.join_all().await.iter().map(|o| o.failures).collect();
            counts.sort_unstable();
            assert_eq!(
                counts,
                (1..=20).collect::<Vec<_>>(),
                "{name}: each failure counted once"
            );
            let locks = Lockouts { cache: &*env.cache };
            let status = locks.status("acme", "u1", now + 20).await.unwrap();
            assert_eq!(status.failures, 20, "{name}");
            assert_eq!(status.last_ip.as_deref(), Some("10.0.0.9"), "{name}");
            let until = status.locked_until.expect("locked");
            assert!(
                (now + 45_000..=now + 19 + 45_000).contains(&until),
                "{name}: {until}"
            );
            assert!(
                locks
                    .locked_until("acme", "u1", until - 1)
                    .await
                    .unwrap()
                    .is_some()
            );
            assert!(
                locks
                    .locked_until("acme", "u1", until)
                    .await
                    .unwrap()
                    .is_none(),
                "{name}"
            );
            locks.clear("acme", "u1").await.unwrap();
            assert_eq!(
                locks.status("acme", "u1", now).await.unwrap(),
                LockoutStatus::default()
            );
        }
    }
}
