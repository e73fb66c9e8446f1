//! Storage: one diesel code path over PostgreSQL and SQLite.
//!
//! `DbConnection` is a `MultiConnection` enum; the pool's manager picks the variant from the
//! URL scheme itself (SQLite would accept any string as a file name). Each service owns one
//! Postgres schema (set as `search_path` on every connection) or one SQLite file. Migrations
//! are embedded per backend and run at start under a Postgres advisory lock, so replicas that
//! start together do not race.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::backend::Backend as DieselBackend;
use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::config::{DatabaseTarget, ServiceKind, Settings, check_identifier};

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// The two migration sets of one service, embedded with `embed_migrations!`.
pub struct Migrations {
    pub postgres: EmbeddedMigrations,
    pub sqlite: EmbeddedMigrations,
}

/// Lends a `'static` embedded set to diesel, which takes migration sources by value.
struct Borrowed(&'static EmbeddedMigrations);

impl<DB: DieselBackend> MigrationSource<DB> for Borrowed
where
    EmbeddedMigrations: MigrationSource<DB>,
{
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        self.0.migrations()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No pooled connection within the configured timeout: the caller answers 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
}

impl DbError {
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// Opens connections for one service, configured for its schema or file.
#[derive(Debug, Clone)]
pub struct ConnectionOpener {
    target: DatabaseTarget,
}

impl ConnectionOpener {
    fn open(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match &self.target {
            DatabaseTarget::Postgres { url, schema } => {
                let mut conn = PgConnection::establish(url)?;
                // The schema name passed check_identifier, so quoting it is enough.
                conn.batch_execute(&format!("SET search_path TO \"{schema}\""))
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Pg(conn))
            }
            DatabaseTarget::Sqlite { path } => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // WAL lets readers work beside one writer; busy_timeout queues writers instead
                // of failing them when several pooled connections write at once.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionOpener {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        self.open().map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

pub type DbPool = r2d2::Pool<ConnectionOpener>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionOpener>;

/// A service's database: the pool and whether its migrations have run.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    target: DatabaseTarget,
    migrated: Arc<AtomicBool>,
    /// SQLite's one writer in this process, started by the first [`Db::write`].
    writer: Arc<OnceLock<SqliteWriter>>,
}

/// A write waiting for the SQLite writer: it runs in the batch's transaction and returns what
/// delivers its result once the batch's commit is known.
type WriteJob = Box<dyn FnOnce(&mut DbConnection) -> WriteDelivery + Send>;
type WriteDelivery = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Writes at most this many jobs per transaction, so one batch cannot hold the lock for long.
const MAX_WRITE_BATCH: usize = 64;

/// The thread that runs every [`Db::write`] of one SQLite database in this process. It ends
/// when the last clone of its `Db` is dropped.
struct SqliteWriter {
    jobs: std::sync::mpsc::Sender<WriteJob>,
}

impl SqliteWriter {
    fn start(pool: DbPool) -> SqliteWriter {
        let (jobs, queue) = std::sync::mpsc::channel::<WriteJob>();
        let spawned = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_WRITE_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    // A write that panics must not stop every later one: its batch is lost
                    // (each caller is told), its connection, left inside a transaction, counts
                    // as broken and leaves the pool, and the thread takes the next batch.
                    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        write_batch(&pool, batch)
                    }));
                    if written.is_err() {
                        tracing::error!("a SQLite write panicked; its batch was not committed");
                    }
                }
            });
        if let Err(e) = spawned {
            // Every write then fails with "stopped" (the receiver is gone): said once here.
            tracing::error!(error = %e, "cannot start the SQLite writer thread");
        }
        SqliteWriter { jobs }
    }
}

fn write_batch(pool: &DbPool, batch: Vec<WriteJob>) {
    let mut conn = match pool.get() {
        Ok(conn) => conn,
        Err(e) => {
            // Dropping the jobs answers each caller that the write did not happen.
            tracing::warn!(error = %e, writes = batch.len(), "no connection for SQLite writes");
            return;
        }
    };
    let mut deliveries = Vec::with_capacity(batch.len());
    let committed = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for job in batch {
            deliveries.push(job(conn));
        }
        Ok(())
    });
    let commit = committed.map_err(|e| e.to_string());
    if let Err(e) = &commit {
        tracing::warn!(error = %e, writes = deliveries.len(), "SQLite batch did not commit");
    }
    for deliver in deliveries {
        deliver(commit.clone());
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The target may hold a URL with a password: name only the backend.
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Db {
    /// Builds the pool without connecting: a service starts (and answers `/health/live`) even
    /// while its database is still coming up.
    pub fn new(settings: &Settings, kind: ServiceKind) -> Result<Db, DbError> {
        let target = settings
            .database_target(kind)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        Self::with_target(target, &settings.database)
    }

    pub fn with_target(
        target: DatabaseTarget,
        cfg: &crate::config::DatabaseSettings,
    ) -> Result<Db, DbError> {
        match &target {
            DatabaseTarget::Postgres { schema, .. } => {
                check_identifier(schema).map_err(|e| DbError::Unavailable(e.to_string()))?
            }
            DatabaseTarget::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        DbError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
        }
        let pool = r2d2::Pool::builder()
            .max_size(cfg.pool_max_size)
            .min_idle(Some(cfg.pool_min_idle.min(cfg.pool_max_size)))
            .connection_timeout(Duration::from_millis(cfg.connection_timeout_ms.max(1)))
            .idle_timeout(Some(Duration::from_secs(cfg.idle_timeout_secs.max(1))))
            .test_on_check_out(false)
            .build_unchecked(ConnectionOpener {
                target: target.clone(),
            });
        Ok(Db {
            pool,
            target,
            migrated: Arc::new(AtomicBool::new(false)),
            writer: Arc::new(OnceLock::new()),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.target {
            DatabaseTarget::Postgres { .. } => Backend::Postgres,
            DatabaseTarget::Sqlite { .. } => Backend::Sqlite,
        }
    }

    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }

    /// Runs one unit of work on the blocking pool: the checkout happens there too, so a
    /// request never blocks an async worker while waiting for a connection.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        self.on_blocking_pool(work).await
    }

    /// `work` on the blocking pool.
    async fn on_blocking_pool<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| DbError::Unavailable(format!("blocking task failed: {e}")))?
    }

    /// Like [`Db::run`], for a unit of work that writes on a hot path; it runs in a
    /// transaction of its own (changes nothing when it fails). PostgreSQL takes it like any
    /// other. SQLite has one writer at a time and let the others sleep in its busy handler
    /// (1, 2, 5, 10 ms ...), and each commit appended its pages to the WAL on its own: here
    /// one thread writes, and every write waiting when it is free commits with the others in
    /// one transaction, each in its own savepoint (group commit). A write returns once its
    /// batch has committed.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        if self.backend() == Backend::Postgres {
            return self.run(|conn| conn.transaction(work)).await;
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = conn.transaction(work);
            Box::new(move |commit: Result<(), String>| {
                let outcome = match commit {
                    Ok(()) => result,
                    Err(e) => Err(DbError::Unavailable(format!("commit failed: {e}"))),
                };
                let _ = reply.send(outcome);
            })
        });
        self.writer
            .get_or_init(|| SqliteWriter::start(self.pool.clone()))
            .jobs
            .send(job)
            .map_err(|_| DbError::Unavailable("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| DbError::Unavailable("the SQLite writer dropped a write".into()))?
    }

    /// `SELECT 1` through the pool: what readiness asks.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Creates the schema if needed and applies pending migrations, holding a Postgres advisory
    /// lock keyed by the schema so concurrent replicas apply each migration once.
    pub async fn migrate(&self, migrations: &'static Migrations) -> Result<(), DbError> {
        let target = self.target.clone();
        self.run(move |conn| apply_migrations(conn, &target, migrations))
            .await?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    /// Keeps trying [`Db::migrate`] until it succeeds: readiness stays 503 until then.
    pub async fn migrate_with_retry(&self, migrations: &'static Migrations, service: ServiceKind) {
        let mut delay = Duration::from_millis(200);
        loop {
            match self.migrate(migrations).await {
                Ok(()) => {
                    tracing::info!(service = %service, backend = ?self.backend(), "database migrations applied");
                    return;
                }
                Err(e) => {
                    tracing::warn!(service = %service, error = %e, retry_in_ms = delay.as_millis() as u64, "database not ready");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Reverts every migration (the migration test uses it; never called in service code).
    pub async fn revert_all(&self, migrations: &'static Migrations) -> Result<(), DbError> {
        self.run(move |conn| {
            let reverted = match conn {
                DbConnection::Pg(c) => c
                    .revert_all_migrations(Borrowed(&migrations.postgres))
                    .map(|_| ()),
                DbConnection::Sqlite(c) => c
                    .revert_all_migrations(Borrowed(&migrations.sqlite))
                    .map(|_| ()),
            };
            reverted.map_err(|e| DbError::Migration(e.to_string()))
        })
        .await?;
        self.migrated.store(false, Ordering::Release);
        Ok(())
    }

    /// Names of the tables in this service's schema or file (tests and diagnostics).
    pub async fn table_names(&self) -> Result<Vec<String>, DbError> {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        self.run(|conn| {
            let sql = match conn {
                DbConnection::Pg(_) => {
                    "SELECT table_name AS name FROM information_schema.tables \
                     WHERE table_schema = current_schema() ORDER BY 1"
                }
                DbConnection::Sqlite(_) => {
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' ORDER BY 1"
                }
            };
            let rows: Vec<Name> = diesel::sql_query(sql).load(conn)?;
            Ok(rows
                .into_iter()
                .map(|r| r.name)
                .filter(|n| n != "__diesel_schema_migrations")
                .collect())
        })
        .await
    }

    /// A connection checked out and held by the caller (tests use it to exhaust the pool).
    pub fn checkout(&self) -> Result<PooledConnection, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }
}

fn apply_migrations(
    conn: &mut DbConnection,
    target: &DatabaseTarget,
    migrations: &'static Migrations,
) -> Result<(), DbError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    match conn {
        DbConnection::Pg(c) => {
            let DatabaseTarget::Postgres { schema, .. } = target else {
                unreachable!("a Pg connection comes from a Postgres target");
            };
            let key = advisory_lock_key(schema);
            c.batch_execute(&format!("SELECT pg_advisory_lock({key})"))?;
            let result = c
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .map_err(DbError::from)
                .and_then(|_| {
                    c.run_pending_migrations(Borrowed(&migrations.postgres))
                        .map_err(failed)
                        .map(|_| ())
                });
            // Unlock even when a migration failed; the session ends the lock anyway if this fails.
            let unlocked = c.batch_execute(&format!("SELECT pg_advisory_unlock({key})"));
            result?;
            unlocked?;
            Ok(())
        }
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(Borrowed(&migrations.sqlite))
            .map(|_| ())
            .map_err(failed),
    }
}

/// A stable 63-bit key per schema (FNV-1a), the same in every replica and every version.
fn advisory_lock_key(schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"idp-migrations:".iter().chain(schema.as_bytes()) {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash >> 1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_differ_per_schema_and_are_stable() {
        assert_eq!(advisory_lock_key("users"), advisory_lock_key("users"));
        assert_ne!(advisory_lock_key("users"), advisory_lock_key("login"));
        assert!(advisory_lock_key("auth") >= 0);
    }
}
