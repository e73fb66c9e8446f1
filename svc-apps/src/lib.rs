//! svc-apps: apps (OAuth clients), their secrets, redirect URIs and allowed flows.

pub mod apps;
pub mod client;
pub mod error;
pub mod input;
pub mod routes;
pub mod schema;
pub mod store;

use actix_web::web;
use diesel_migrations::embed_migrations;
use idp_shared::db::Migrations;
use idp_shared::error::Shape;
use idp_shared::names::now_millis;
use idp_shared::security::SecretBox;
use idp_shared::{IdpService, ServiceContext, ServiceKind, StartError};

use crate::error::Error;

/// This service's schema, for PostgreSQL and for SQLite.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: embed_migrations!("migrations/postgres"),
    sqlite: embed_migrations!("migrations/sqlite"),
};

/// What every request handler of svc-apps is given.
#[derive(Clone)]
pub struct State {
    pub ctx: ServiceContext,
    /// Seals and opens client secrets.
    pub secrets: SecretBox,
}

impl IdpService for State {
    const KIND: ServiceKind = ServiceKind::Apps;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;

    async fn build(ctx: ServiceContext) -> Result<Self, StartError> {
        let secrets = SecretBox::from_settings(&ctx.settings)
            .map_err(|e| StartError::Other(e.to_string()))?;
        Ok(State { ctx, secrets })
    }

    fn configure(cfg: &mut web::ServiceConfig, state: Self) {
        configure(cfg, state)
    }

    /// `master` gets Keycloak's default clients like every other tenant.
    async fn bootstrap(&self) -> Result<(), String> {
        ensure_default_clients(self, "master", now_millis())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Registers health, metrics and every route of svc-apps.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    state.ctx.configure_common(cfg, Shape::Kobil(2));
    routes::configure(cfg, state.ctx.settings.http.max_body_bytes);
    cfg.app_data(web::Data::new(state));
}

/// A client secret is sealed bound to its app's id.
pub fn secret_context(app_id: &str) -> String {
    format!("client-secret:{app_id}")
}

/// Creates whichever default clients the tenant lacks (idempotent; a concurrent creator's
/// unique violation counts as done) and returns the tenant's client ids.
pub async fn ensure_default_clients(
    state: &State,
    tenant: &str,
    now: i64,
) -> Result<Vec<String>, Error> {
    let name = tenant.to_owned();
    let existing = state
        .ctx
        .db
        .run(move |conn| store::client_ids(conn, &name))
        .await?;
    for app in client::default_clients(tenant, now) {
        if existing.contains(&app.row.client_id) {
            continue;
        }
        match state
            .ctx
            .db
            .run(move |conn| store::insert(conn, &app))
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let name = tenant.to_owned();
    Ok(state
        .ctx
        .db
        .run(move |conn| store::client_ids(conn, &name))
        .await?)
}
