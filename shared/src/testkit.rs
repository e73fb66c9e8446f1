//! What integration tests share: the backends to run on, an isolated environment per test
//! (a temp dir for SQLite, its own Postgres schemas and Redis key prefix), real services
//! started on ephemeral ports, and the checks every service must pass.
//!
//! The embedded backend always runs. Postgres + Redis run too when `IDP_TEST_DATABASE_URL`
//! and `IDP_TEST_REDIS_URL` are set; a run that sets them and cannot reach them fails.

use std::sync::Arc;

use diesel::Connection;
use diesel::connection::SimpleConnection;

use crate::cache::SharedCache;
use crate::config::{Secret, ServiceKind, Settings};
use crate::service::{IdpService, RunningService, ServiceContext};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestBackend {
    /// SQLite files in a temp dir and the in-process cache.
    Embedded,
    /// PostgreSQL and Redis from the environment.
    External {
        database_url: String,
        redis_url: String,
    },
}

impl TestBackend {
    pub fn name(&self) -> &'static str {
        match self {
            TestBackend::Embedded => "embedded",
            TestBackend::External { .. } => "postgres+redis",
        }
    }
}

/// The backends this run must cover.
pub fn backends() -> Vec<TestBackend> {
    let db = std::env::var("IDP_TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty());
    let redis = std::env::var("IDP_TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty());
    match (db, redis) {
        (None, None) => vec![TestBackend::Embedded],
        (Some(database_url), Some(redis_url)) => vec![
            TestBackend::Embedded,
            TestBackend::External {
                database_url,
                redis_url,
            },
        ],
        _ => panic!("set both IDP_TEST_DATABASE_URL and IDP_TEST_REDIS_URL, or neither"),
    }
}

fn test_key_encryption_key() -> String {
    use base64::Engine;
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// One test's isolated storage. Dropping it removes its Postgres schemas.
pub struct TestEnv {
    pub backend: TestBackend,
    pub cache: SharedCache,
    base: Settings,
    schema_prefix: String,
    _dir: tempfile::TempDir,
}

impl TestEnv {
    pub async fn new(backend: &TestBackend) -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut base = Settings::for_test(dir.path());
        base.http.shutdown_timeout_secs = 1;
        // Tests drive thousands of requests from one address; the rate-limit tests turn the
        // limits back on with limits of their own.
        base.gateway.rate_limits.enabled = false;
        base.security.service_token = Some(Secret::new(crate::security::random_token(32)));
        // Like a deployment: a configured key (Postgres requires one; the embedded mode would
        // otherwise write one into the temp dir).
        base.security.key_encryption_key = Some(Secret::new(test_key_encryption_key()));
        if let TestBackend::External {
            database_url,
            redis_url,
        } = backend
        {
            base.database.url = Some(Secret::new(database_url.clone()));
            base.cache.url = Secret::new(redis_url.clone());
            base.cache.prefix = format!("test:{id}:");
            base.database.schema_prefix = format!("t{}_", &id[..12]);
        }
        let cache = crate::cache::connect(&base.cache)
            .await
            .unwrap_or_else(|e| panic!("{} cache unreachable: {e}", backend.name()));
        cache
            .ping()
            .await
            .unwrap_or_else(|e| panic!("{} cache does not answer: {e}", backend.name()));
        TestEnv {
            backend: backend.clone(),
            cache,
            base,
            schema_prefix: format!("t{}_", &id[..12]),
            _dir: dir,
        }
    }

    /// Settings of this environment: on Postgres every service's schema carries this test's
    /// prefix, so tests running at once never share a table.
    pub fn settings(&self) -> Settings {
        self.base.clone()
    }

    /// A service context whose migrations have run (a failure fails the test).
    pub async fn context(
        &self,
        kind: ServiceKind,
        migrations: &'static crate::db::Migrations,
    ) -> ServiceContext {
        let ctx = ServiceContext::new(kind, Arc::new(self.settings()), self.cache.clone())
            .expect("service context");
        ctx.db
            .migrate(migrations)
            .await
            .unwrap_or_else(|e| panic!("{} migrations on {}: {e}", kind, self.backend.name()));
        ctx
    }

    /// Starts service `S` on an ephemeral loopback port, migrated, bootstrapped and ready.
    pub async fn spawn<S: IdpService>(&self) -> RunningService {
        let ctx = self.context(S::KIND, S::MIGRATIONS).await;
        let listener = crate::service::bind("127.0.0.1:0").expect("ephemeral port");
        let svc = crate::service::start_with_context::<S>(ctx, listener, 1)
            .await
            .unwrap_or_else(|e| panic!("{} did not start: {e}", S::KIND));
        wait_until_started(&svc).await;
        svc
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let TestBackend::External { database_url, .. } = &self.backend else {
            return;
        };
        // Best effort: a schema left behind by a crashed run is harmless and uniquely named.
        if let Ok(mut conn) = diesel::PgConnection::establish(database_url) {
            for kind in ServiceKind::SERVICES {
                let _ = conn.batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS \"{}{}\" CASCADE",
                    self.schema_prefix,
                    kind.name()
                ));
            }
        }
    }
}

/// Waits until a started service has finished its start-up work (a test fails after 30 s).
pub async fn wait_until_started(svc: &RunningService) {
    let probes = svc.ctx.probes();
    for _ in 0..300 {
        if probes.is_started() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{} did not finish its start-up in 30 s", svc.kind);
}

/// A plain HTTP client for tests (no redirects, short timeout).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

/// What every service must do, checked over HTTP on every backend: health, readiness that
/// really depends on its migrations, metrics by route, JSON 404s, migrations up and down.
pub async fn check_service_conformance<S: IdpService>() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let svc = env.spawn::<S>().await;
        let client = http();
        let at = |p: &str| format!("{}{p}", svc.url);
        let ctx = format!("{} on {}", S::KIND, backend.name());

        let live = client.get(at("/health/live")).send().await.unwrap();
        assert_eq!(live.status(), 200, "{ctx}: live");

        let ready = client.get(at("/health/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{ctx}: ready");
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["status"], "UP", "{ctx}: {body}");
        let names: Vec<String> = body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(names.iter().any(|n| n == "database"), "{ctx}: {names:?}");
        assert!(
            names.iter().any(|n| n.starts_with("cache")),
            "{ctx}: {names:?}"
        );

        let missing = client.get(at("/no/such/route")).send().await.unwrap();
        assert_eq!(missing.status(), 404, "{ctx}: unknown route");
        let body: serde_json::Value = missing.json().await.unwrap();
        assert_eq!(body["error"], "NOT_FOUND", "{ctx}: {body}");

        let metrics = client.get(at("/metrics")).send().await.unwrap();
        assert_eq!(metrics.status(), 200, "{ctx}: metrics");
        let text = metrics.text().await.unwrap();
        assert!(
            text.contains("idp_http_requests_total{")
                && text.contains("route=\"/health/live\"")
                && text.contains(&format!("service=\"{}\"", S::KIND.name())),
            "{ctx}: metrics text lacks the request counter:\n{text}"
        );

        // Every migration goes down and up again, and readiness follows it.
        let tables = svc.ctx.db.table_names().await.unwrap();
        assert!(!tables.is_empty(), "{ctx}: migrations created no table");
        svc.ctx.db.revert_all(S::MIGRATIONS).await.unwrap();
        assert_eq!(
            svc.ctx.db.table_names().await.unwrap(),
            Vec::<String>::new(),
            "{ctx}: down"
        );
        let ready = client.get(at("/health/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 503, "{ctx}: ready while unmigrated");
        svc.ctx.db.migrate(S::MIGRATIONS).await.unwrap();
        assert_eq!(
            svc.ctx.db.table_names().await.unwrap(),
            tables,
            "{ctx}: up again"
        );
        let ready = client.get(at("/health/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{ctx}: ready after migrating");

        svc.handle.stop(true).await;
    }
}
