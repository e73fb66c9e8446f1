//! The storage layer on every backend this run has: migrations up and down, concurrent
//! migrators, a query through the one diesel code path, and pool exhaustion answered fast.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use diesel::prelude::*;
use diesel_migrations::embed_migrations;
use idp_shared::config::{DatabaseSettings, DatabaseTarget};
use idp_shared::db::{Db, DbError, Migrations};
use idp_shared::error::ErrorInfo;
use idp_shared::testkit::{TestBackend, backends};

static MIGRATIONS: Migrations = Migrations {
    postgres: embed_migrations!("tests/migrations/postgres"),
    sqlite: embed_migrations!("tests/migrations/sqlite"),
};

diesel::table! {
    items (id) {
        id -> Text,
        tenant -> Text,
        created_at -> BigInt,
    }
}

/// A target of its own for one test; the guard drops the Postgres schema afterwards.
struct Target {
    target: DatabaseTarget,
    _dir: tempfile::TempDir,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let DatabaseTarget::Postgres { url, schema } = &self.target
            && let Ok(mut conn) = diesel::PgConnection::establish(url)
        {
            use diesel::connection::SimpleConnection;
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
        }
    }
}

fn target(backend: &TestBackend) -> Target {
    let dir = tempfile::tempdir().unwrap();
    let target = match backend {
        TestBackend::Embedded => DatabaseTarget::Sqlite {
            path: dir.path().join("nested").join("store.db"),
        },
        TestBackend::External { database_url, .. } => DatabaseTarget::Postgres {
            url: database_url.clone(),
            schema: format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        },
    };
    Target { target, _dir: dir }
}

fn settings(pool: u32, timeout_ms: u64) -> DatabaseSettings {
    DatabaseSettings {
        pool_max_size: pool,
        connection_timeout_ms: timeout_ms,
        ..DatabaseSettings::default()
    }
}

#[tokio::test]
async fn migrations_go_up_and_down_and_queries_run_on_both_backends() {
    for backend in backends() {
        let t = target(&backend);
        let db = Db::with_target(t.target.clone(), &settings(4, 5_000)).unwrap();
        let name = backend.name();
        assert!(!db.is_migrated());
        db.migrate(&MIGRATIONS)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(db.is_migrated());
        assert_eq!(
            db.table_names().await.unwrap(),
            vec!["items".to_owned()],
            "{name}"
        );
        // Applying again is a no-op.
        db.migrate(&MIGRATIONS).await.unwrap();

        let inserted = db
            .run(|conn| {
                diesel::insert_into(items::table)
                    .values((
                        items::id.eq("i1"),
                        items::tenant.eq("acme"),
                        items::created_at.eq(1_700_000_000_000_i64),
                    ))
                    .execute(conn)?;
                Ok(items::table
                    .filter(items::tenant.eq("acme"))
                    .select((items::id, items::created_at))
                    .load::<(String, i64)>(conn)?)
            })
            .await
            .unwrap();
        assert_eq!(
            inserted,
            vec![("i1".to_owned(), 1_700_000_000_000)],
            "{name}"
        );

        let duplicate = db
            .run(|conn| {
                diesel::insert_into(items::table)
                    .values((
                        items::id.eq("i1"),
                        items::tenant.eq("x"),
                        items::created_at.eq(0_i64),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(duplicate.is_unique_violation(), "{name}: {duplicate}");

        db.revert_all(&MIGRATIONS).await.unwrap();
        assert!(db.table_names().await.unwrap().is_empty(), "{name}");
        assert!(!db.is_migrated());
    }
}

#[tokio::test]
async fn replicas_migrating_at_once_all_succeed() {
    for backend in backends() {
        let t = target(&backend);
        let replicas: Vec<Db> = (0..4)
            .map(|_| Db::with_target(t.target.clone(), &settings(2, 10_000)).unwrap())
            .collect();
        let runs: Vec<_> = replicas
            .iter()
            .map(|db| {
                let db = db.clone();
                tokio::spawn(async move { db.migrate(&MIGRATIONS).await })
            })
            .collect();
        for run in runs {
            run.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        }
        assert_eq!(
            replicas[0].table_names().await.unwrap(),
            vec!["items".to_owned()]
        );
    }
}

#[tokio::test]
async fn an_exhausted_pool_answers_unavailable_instead_of_hanging() {
    for backend in backends() {
        let t = target(&backend);
        let db = Db::with_target(t.target.clone(), &settings(1, 200)).unwrap();
        db.migrate(&MIGRATIONS).await.unwrap();
        let held = db.checkout().unwrap();
        let started = Instant::now();
        let err = db.ping().await.unwrap_err();
        let waited = started.elapsed();
        assert!(
            matches!(err, DbError::Unavailable(_)),
            "{}: {err}",
            backend.name()
        );
        // Bounded by the configured checkout timeout, not by anything a client controls.
        assert!(
            waited < Duration::from_secs(5),
            "{}: waited {waited:?}",
            backend.name()
        );
        assert_eq!(ErrorInfo::from(err).status, StatusCode::SERVICE_UNAVAILABLE);
        drop(held);
        db.ping().await.unwrap();
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_reported_not_panicked() {
    let db = Db::with_target(
        DatabaseTarget::Postgres {
            url: "postgres://nobody@127.0.0.1:1/none".into(),
            schema: "auth".into(),
        },
        &settings(1, 500),
    )
    .unwrap();
    assert!(matches!(db.ping().await, Err(DbError::Unavailable(_))));
    assert!(db.migrate(&MIGRATIONS).await.is_err());
    assert!(!db.is_migrated());
    // The error names neither the URL nor its credentials.
    let err = db.ping().await.unwrap_err().to_string();
    assert!(!err.contains("nobody@"), "{err}");
}

/// Hot-path writes arrive together (on SQLite they commit in batches): each is all or nothing
/// on its own, a failing one leaves the others alone, and every caller gets its own answer.
#[tokio::test]
async fn parallel_writes_each_commit_or_change_nothing() {
    for backend in backends() {
        let t = target(&backend);
        let db = Db::with_target(t.target.clone(), &settings(4, 5_000)).unwrap();
        let name = backend.name();
        db.migrate(&MIGRATIONS).await.unwrap();
        let writes = (0..60).map(|i| {
            let db = db.clone();
            async move {
                db.write(move |conn| {
                    let id = format!("w{i}");
                    diesel::insert_into(items::table)
                        .values((
                            items::id.eq(&id),
                            items::tenant.eq("batch"),
                            items::created_at.eq(i64::from(i)),
                        ))
                        .execute(conn)?;
                    // Every fifth write fails after it inserted: its row must not stay.
                    if i % 5 == 0 {
                        diesel::insert_into(items::table)
                            .values((
                                items::id.eq(&id),
                                items::tenant.eq("twice"),
                                items::created_at.eq(0_i64),
                            ))
                            .execute(conn)?;
                    }
                    Ok(i)
                })
                .await
            }
        });
        let answers = futures_util::future::join_all(writes).await;
        for (i, answer) in (0..60).zip(&answers) {
            match answer {
                Ok(n) => assert_eq!((i % 5 != 0, *n), (true, i), "{name}: write {i}"),
                Err(e) => assert!(
                    i % 5 == 0 && e.is_unique_violation(),
                    "{name}: write {i}: {e}"
                ),
            }
        }
        let mut stored = db
            .run(|conn| Ok(items::table.select(items::created_at).load::<i64>(conn)?))
            .await
            .unwrap();
        stored.sort_unstable();
        let expected: Vec<i64> = (0..60).filter(|i| i % 5 != 0).collect();
        assert_eq!(stored, expected, "{name}");
    }
}

/// A write that panics is refused to its caller, and writes after it still commit.
#[tokio::test]
async fn a_panicking_write_does_not_stop_later_writes() {
    for backend in backends() {
        let t = target(&backend);
        let db = Db::with_target(t.target.clone(), &settings(4, 5_000)).unwrap();
        let name = backend.name();
        db.migrate(&MIGRATIONS).await.unwrap();
        let failed = db
            .write(|conn| {
                diesel::insert_into(items::table)
                    .values((
                        items::id.eq("lost"),
                        items::tenant.eq("panic"),
                        items::created_at.eq(0_i64),
                    ))
                    .execute(conn)?;
                panic!("a bug in a write");
                #[allow(unreachable_code)]
                Ok(())
            })
            .await;
        assert!(
            matches!(failed, Err(DbError::Unavailable(_))),
            "{name}: {failed:?}"
        );
        let after = db
            .write(|conn| {
                diesel::insert_into(items::table)
                    .values((
                        items::id.eq("kept"),
                        items::tenant.eq("after"),
                        items::created_at.eq(1_i64),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await;
        assert!(after.is_ok(), "{name}: {after:?}");
        let ids = db
            .run(|conn| Ok(items::table.select(items::id).load::<String>(conn)?))
            .await
            .unwrap();
        assert_eq!(ids, vec!["kept".to_owned()], "{name}");
    }
}
