//! One suite, run against every cache this run has: the in-process one always, Redis when
//! `IDP_TEST_REDIS_URL` is set (and then it must answer).

use std::sync::Arc;
use std::time::Duration;

use idp_shared::cache::{self, SharedCache};
use idp_shared::config::{CacheSettings, Secret};

async fn caches() -> Vec<SharedCache> {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let mut out = vec![
        cache::connect(&CacheSettings {
            url: Secret::new("memory"),
            prefix: prefix.clone(),
            timeout_ms: 1000,
        })
        .await
        .unwrap(),
    ];
    if let Ok(url) = std::env::var("IDP_TEST_REDIS_URL") {
        let redis = cache::connect(&CacheSettings {
            url: Secret::new(url),
            prefix,
            timeout_ms: 1000,
        })
        .await
        .expect("IDP_TEST_REDIS_URL is set, so Redis must be reachable");
        redis.ping().await.expect("Redis answers PING");
        out.push(redis);
    }
    out
}

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn get_set_delete_round_trip() {
    for c in caches().await {
        let k = c.kind();
        assert_eq!(c.get("a").await.unwrap(), None, "{k}");
        c.set("a", b"one", LONG).await.unwrap();
        assert_eq!(
            c.get("a").await.unwrap().as_deref(),
            Some(&b"one"[..]),
            "{k}"
        );
        c.set("a", b"two", LONG).await.unwrap();
        assert_eq!(
            c.get("a").await.unwrap().as_deref(),
            Some(&b"two"[..]),
            "{k}"
        );
        assert!(c.delete("a").await.unwrap(), "{k}");
        assert!(!c.delete("a").await.unwrap(), "{k}: second delete");
        assert_eq!(c.get("a").await.unwrap(), None, "{k}");
    }
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    for c in caches().await {
        let k = c.kind();
        c.set("short", b"x", Duration::from_millis(80))
            .await
            .unwrap();
        c.set("long", b"y", LONG).await.unwrap();
        let ttl = c.ttl("long").await.unwrap().unwrap();
        assert!(ttl > Duration::from_secs(50) && ttl <= LONG, "{k}: {ttl:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(c.get("short").await.unwrap(), None, "{k}");
        assert_eq!(c.ttl("short").await.unwrap(), None, "{k}");
        assert!(c.get("long").await.unwrap().is_some(), "{k}");
    }
}

#[tokio::test]
async fn set_if_absent_stores_once() {
    for c in caches().await {
        let k = c.kind();
        assert!(
            c.set_if_absent("code", b"first", LONG).await.unwrap(),
            "{k}"
        );
        assert!(
            !c.set_if_absent("code", b"second", LONG).await.unwrap(),
            "{k}"
        );
        assert_eq!(
            c.get("code").await.unwrap().as_deref(),
            Some(&b"first"[..]),
            "{k}"
        );
        // After expiry the key is free again.
        assert!(
            c.set_if_absent("brief", b"1", Duration::from_millis(50))
                .await
                .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(c.set_if_absent("brief", b"2", LONG).await.unwrap(), "{k}");
    }
}

#[tokio::test]
async fn take_spends_a_value_once_even_when_raced() {
    for c in caches().await {
        let k = c.kind();
        c.set("otc", b"code", LONG).await.unwrap();
        let racers: Vec<_> = (0..16)
            .map(|_| {
                let c = Arc::clone(&c);
                tokio::spawn(async move { c.take("otc").await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for r in racers {
            if r.await.unwrap().is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "{k}: exactly one take wins");
        assert_eq!(c.get("otc").await.unwrap(), None, "{k}");
    }
}

#[tokio::test]
async fn parallel_increments_are_all_counted_and_keep_the_first_ttl() {
    for c in caches().await {
        let k = c.kind();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let c = Arc::clone(&c);
                tokio::spawn(async move { c.incr("fails", 1, LONG).await.unwrap() })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            (1..=50).collect::<Vec<i64>>(),
            "{k}: each increment saw its own value"
        );
        assert_eq!(
            c.incr("fails", 5, Duration::from_millis(1)).await.unwrap(),
            55,
            "{k}"
        );
        // The later, shorter TTL did not replace the one set at creation.
        let ttl = c.ttl("fails").await.unwrap().unwrap();
        assert!(ttl > Duration::from_secs(30), "{k}: {ttl:?}");
        // A counter created with a short TTL goes away with it.
        c.incr("window", 1, Duration::from_millis(60))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            c.incr("window", 1, LONG).await.unwrap(),
            1,
            "{k}: fresh window"
        );
    }
}

#[tokio::test]
async fn keys_are_isolated_by_prefix() {
    for c in caches().await {
        c.set("shared-name", b"mine", LONG).await.unwrap();
    }
    // A second set of caches has another prefix and sees nothing of the first.
    for c in caches().await {
        assert_eq!(c.get("shared-name").await.unwrap(), None, "{}", c.kind());
    }
}

#[tokio::test]
async fn unknown_cache_urls_are_refused() {
    let err = cache::connect(&CacheSettings {
        url: Secret::new("memcached://x"),
        prefix: String::new(),
        timeout_ms: 100,
    })
    .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn throttles_allow_the_burst_then_refill_at_the_rate() {
    for c in caches().await {
        let k = c.kind();
        let interval = Duration::from_millis(100);
        // Parallel callers share one bucket: exactly the burst gets through.
        let tasks: Vec<_> = (0..30)
            .map(|_| {
                let c = Arc::clone(&c);
                tokio::spawn(async move { c.throttle("bucket", interval, 10).await.unwrap() })
            })
            .collect();
        let mut allowed = 0;
        let mut waits = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                None => allowed += 1,
                Some(wait) => waits.push(wait),
            }
        }
        assert_eq!(allowed, 10, "{k}");
        assert!(
            waits.iter().all(|w| *w > Duration::ZERO && *w <= interval),
            "{k}: the next token is at most one interval away: {waits:?}"
        );
        // One interval later one more request fits, and only one.
        tokio::time::sleep(interval + Duration::from_millis(20)).await;
        assert_eq!(
            c.throttle("bucket", interval, 10).await.unwrap(),
            None,
            "{k}"
        );
        assert!(
            c.throttle("bucket", interval, 10).await.unwrap().is_some(),
            "{k}"
        );
        // Other keys have buckets of their own.
        assert_eq!(c.throttle("other", interval, 1).await.unwrap(), None, "{k}");
        assert!(
            c.throttle("other", interval, 1).await.unwrap().is_some(),
            "{k}"
        );
    }
}
