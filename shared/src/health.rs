//! `/health/live`, `/health/ready` and `/metrics`, the same on every process.
//! Readiness asks the database (migrated and answering) and the cache for real, plus any
//! checks a part adds (the gateway asks its upstreams). Replies use Keycloak's health shape.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{HttpResponse, web};
use async_trait::async_trait;
use serde_json::json;

use crate::cache::SharedCache;
use crate::db::Db;
use crate::telemetry::Metrics;

/// One named check with its outcome; the error text is for operators, never a secret.
pub type CheckResult = (String, Result<(), String>);

/// A readiness check a part adds to the standard ones.
#[async_trait]
pub trait ReadyCheck: Send + Sync + 'static {
    async fn check(&self) -> Vec<CheckResult>;
}

#[derive(Clone)]
pub struct Probes {
    db: Option<Db>,
    cache: SharedCache,
    extra: Option<Arc<dyn ReadyCheck>>,
    draining: Arc<AtomicBool>,
    /// Set once start-up work (migrations, bootstrap) is done; parts without any start
    /// ready at once.
    started: Arc<AtomicBool>,
}

impl Probes {
    pub fn new(db: Option<Db>, cache: SharedCache) -> Self {
        Probes {
            extra: None,
            draining: Arc::new(AtomicBool::new(false)),
            started: Arc::new(AtomicBool::new(db.is_none())),
            db,
            cache,
        }
    }

    pub fn mark_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    pub fn with_check(mut self, check: Arc<dyn ReadyCheck>) -> Self {
        self.extra = Some(check);
        self
    }

    /// From now on readiness answers 503, so load balancers stop sending before shutdown.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub async fn run(&self) -> Vec<CheckResult> {
        let mut checks = Vec::new();
        if self.draining.load(Ordering::Acquire) {
            checks.push(("shutdown".to_owned(), Err("draining".to_owned())));
        }
        if !self.is_started() {
            checks.push((
                "startup".to_owned(),
                Err("migrations or bootstrap pending".to_owned()),
            ));
        }
        if let Some(db) = &self.db {
            let migrated = if db.is_migrated() {
                Ok(())
            } else {
                Err("migrations pending".to_owned())
            };
            checks.push(("migrations".to_owned(), migrated));
            let ping = db.ping().await.map_err(|e| match e {
                crate::db::DbError::Unavailable(_) => "unreachable".to_owned(),
                _ => "query failed".to_owned(),
            });
            checks.push(("database".to_owned(), ping));
        }
        let cache = self
            .cache
            .ping()
            .await
            .map_err(|_| "unreachable".to_owned());
        checks.push((format!("cache ({})", self.cache.kind()), cache));
        if let Some(extra) = &self.extra {
            checks.extend(extra.check().await);
        }
        checks
    }
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "UP", "checks": [] }))
}

async fn ready(probes: web::Data<Probes>) -> HttpResponse {
    let checks = probes.run().await;
    let up = checks.iter().all(|(_, r)| r.is_ok());
    let body = json!({
        "status": if up { "UP" } else { "DOWN" },
        "checks": checks.iter().map(|(name, r)| match r {
            Ok(()) => json!({ "name": name, "status": "UP" }),
            Err(why) => json!({ "name": name, "status": "DOWN", "data": { "reason": why } }),
        }).collect::<Vec<_>>(),
    });
    if up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

/// Registers the three routes and the data they read.
pub fn configure(cfg: &mut web::ServiceConfig, probes: Probes, metrics_data: web::Data<Metrics>) {
    cfg.app_data(web::Data::new(probes))
        .app_data(metrics_data)
        .route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}
