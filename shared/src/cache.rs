//! Short-lived shared state: brute-force counters, revoked token ids, one-time codes, rate-limit
//! buckets, cached lookups. Redis in production (shared by every replica), an in-process map in
//! the embedded mode. Both pass the same test suite (`tests/cache.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use crate::config::CacheSettings;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache unavailable: {0}")]
    Unavailable(String),
    #[error("cache configuration: {0}")]
    Config(String),
}

/// The operations every service may rely on. Keys are given without the deployment prefix;
/// values are bytes. Every TTL is at least one millisecond.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError>;
    /// Stores the value only when the key is absent; true when it was stored.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError>;
    /// Returns and removes the value in one step (a one-time code can be spent once).
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    /// True when the key existed.
    async fn delete(&self, key: &str) -> Result<bool, CacheError>;
    /// Adds `by` atomically and returns the new value; a key created by this call expires
    /// after `ttl`, an existing key keeps its expiry.
    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, CacheError>;
    /// Remaining time to live; None when the key is absent.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, CacheError>;
    /// One request against a GCRA rate limit (a token bucket of `burst` refilled one token
    /// per `interval`), decided atomically: None when allowed, else how long until the next
    /// request would be. Every caller sharing the cache shares the limit.
    async fn throttle(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<Option<Duration>, CacheError>;
    async fn ping(&self) -> Result<(), CacheError>;
    /// "memory" or "redis", for logs and readiness replies.
    fn kind(&self) -> &'static str;
}

pub type SharedCache = Arc<dyn Cache>;

/// Builds the cache named by `cache.url` ("memory" or "redis://...").
pub async fn connect(settings: &CacheSettings) -> Result<SharedCache, CacheError> {
    let url = settings.url.expose();
    if url == "memory" {
        return Ok(Arc::new(MemoryCache::new(&settings.prefix)));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        let cache = RedisCache::connect(url, &settings.prefix, settings.timeout_ms).await?;
        return Ok(Arc::new(cache));
    }
    Err(CacheError::Config(
        "cache.url must be \"memory\" or start with redis://".into(),
    ))
}

fn ttl_ms(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

// ---------------------------------------------------------------------------------------------

struct Entry {
    value: Vec<u8>,
    expires: Instant,
}

/// The embedded mode's cache: one map behind a mutex, expired entries dropped on access and
/// swept every few thousand writes so the map cannot grow without bound.
pub struct MemoryCache {
    prefix: String,
    inner: Mutex<MemoryState>,
}

struct MemoryState {
    entries: HashMap<String, Entry>,
    writes_since_sweep: u32,
    /// The zero of the rate limiter's clock.
    epoch: Instant,
}

impl Default for MemoryState {
    fn default() -> Self {
        MemoryState {
            entries: HashMap::new(),
            writes_since_sweep: 0,
            epoch: Instant::now(),
        }
    }
}

const SWEEP_EVERY: u32 = 4096;

impl MemoryCache {
    pub fn new(prefix: &str) -> Self {
        MemoryCache {
            prefix: prefix.to_owned(),
            inner: Mutex::new(MemoryState::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryState, Instant) -> T) -> T {
        // A panic while holding the lock cannot leave an entry half-written, so a poisoned
        // mutex is still consistent.
        let mut state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state, Instant::now())
    }

    fn live<'a>(state: &'a mut MemoryState, key: &str, now: Instant) -> Option<&'a mut Entry> {
        if state.entries.get(key).is_some_and(|e| e.expires <= now) {
            state.entries.remove(key);
        }
        state.entries.get_mut(key)
    }

    fn note_write(state: &mut MemoryState, now: Instant) {
        state.writes_since_sweep += 1;
        if state.writes_since_sweep >= SWEEP_EVERY {
            state.writes_since_sweep = 0;
            state.entries.retain(|_, e| e.expires > now);
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let key = self.key(key);
        Ok(self.with(|s, now| Self::live(s, &key, now).map(|e| e.value.clone())))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let key = self.key(key);
        self.with(|s, now| {
            let expires = now + Duration::from_millis(ttl_ms(ttl));
            s.entries.insert(
                key,
                Entry {
                    value: value.to_vec(),
                    expires,
                },
            );
            Self::note_write(s, now);
        });
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let key = self.key(key);
        Ok(self.with(|s, now| {
            if Self::live(s, &key, now).is_some() {
                return false;
            }
            let expires = now + Duration::from_millis(ttl_ms(ttl));
            s.entries.insert(
                key,
                Entry {
                    value: value.to_vec(),
                    expires,
                },
            );
            Self::note_write(s, now);
            true
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let key = self.key(key);
        Ok(self.with(|s, now| {
            Self::live(s, &key, now)?;
            s.entries.remove(&key).map(|e| e.value)
        }))
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let key = self.key(key);
        Ok(self.with(|s, now| {
            let existed = Self::live(s, &key, now).is_some();
            s.entries.remove(&key);
            existed
        }))
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, CacheError> {
        let key = self.key(key);
        self.with(|s, now| {
            let next = match Self::live(s, &key, now) {
                Some(entry) => {
                    let current = parse_counter(&entry.value)?;
                    let next = current
                        .checked_add(by)
                        .ok_or_else(|| CacheError::Unavailable("counter overflow".into()))?;
                    entry.value = next.to_string().into_bytes();
                    next
                }
                None => {
                    s.entries.insert(
                        key,
                        Entry {
                            value: by.to_string().into_bytes(),
                            expires: now + Duration::from_millis(ttl_ms(ttl)),
                        },
                    );
                    by
                }
            };
            Self::note_write(s, now);
            Ok(next)
        })
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, CacheError> {
        let key = self.key(key);
        Ok(self.with(|s, now| Self::live(s, &key, now).map(|e| e.expires - now)))
    }

    async fn throttle(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<Option<Duration>, CacheError> {
        let key = self.key(key);
        let step = interval.as_micros().max(1) as u64;
        self.with(|s, now| {
            // The theoretical arrival time, as micros from this cache's own clock.
            let clock = now.duration_since(s.epoch).as_micros() as u64;
            let tat = Self::live(s, &key, now)
                .and_then(|e| std::str::from_utf8(&e.value).ok()?.parse::<u64>().ok())
                .unwrap_or(clock)
                .max(clock);
            let allowance = step.saturating_mul(u64::from(burst.max(1)) - 1);
            if tat - clock > allowance {
                return Ok(Some(Duration::from_micros(tat - clock - allowance)));
            }
            let next = tat + step;
            s.entries.insert(
                key,
                Entry {
                    value: next.to_string().into_bytes(),
                    expires: now + Duration::from_micros(next - clock),
                },
            );
            Self::note_write(s, now);
            Ok(None)
        })
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

fn parse_counter(value: &[u8]) -> Result<i64, CacheError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CacheError::Unavailable("value is not a counter".into()))
}

// ---------------------------------------------------------------------------------------------

/// Redis through one multiplexed, self-reconnecting connection per process.
pub struct RedisCache {
    prefix: String,
    conn: ConnectionManager,
    incr_script: redis::Script,
    throttle_script: redis::Script,
}

/// GCRA on the server's clock (so replicas with skewed clocks share one limit): the key holds
/// the theoretical arrival time in microseconds. Returns 0 when allowed, else the wait in
/// microseconds.
const THROTTLE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local step = tonumber(ARGV[1])
local allowance = step * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > allowance then
  return math.max(1, math.floor(tat - now - allowance))
end
local next = tat + step
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000) + 1)
return 0
";

/// INCRBY and, only for a key that has no expiry yet, PEXPIRE: one atomic step on the server.
const INCR_WITH_TTL: &str = r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v
";

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str, timeout_ms: u64) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError::Config(e.to_string()))?;
        let timeout = Duration::from_millis(timeout_ms.max(1));
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        Ok(RedisCache {
            prefix: prefix.to_owned(),
            conn,
            incr_script: redis::Script::new(INCR_WITH_TTL),
            throttle_script: redis::Script::new(THROTTLE),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn unavailable(e: redis::RedisError) -> CacheError {
    CacheError::Unavailable(e.to_string())
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut conn = self.conn.clone();
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let mut conn = self.conn.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(reply.is_some())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut conn = self.conn.clone();
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let mut conn = self.conn.clone();
        let n: i64 = redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, CacheError> {
        let mut conn = self.conn.clone();
        self.incr_script
            .key(self.key(key))
            .arg(by)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, CacheError> {
        let mut conn = self.conn.clone();
        let ms: i64 = redis::cmd("PTTL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        // -2: no such key; -1: no expiry (never set by us, reported as absent of a TTL).
        Ok(match ms {
            -2 => None,
            -1 => Some(Duration::MAX),
            ms => Some(Duration::from_millis(ms as u64)),
        })
    }

    async fn throttle(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<Option<Duration>, CacheError> {
        let mut conn = self.conn.clone();
        let wait: i64 = self
            .throttle_script
            .key(self.key(key))
            .arg(interval.as_micros().max(1) as u64)
            .arg(burst.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok((wait > 0).then(|| Duration::from_micros(wait as u64)))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
