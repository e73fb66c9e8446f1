//! svc-riskbits: device risk ratings per tenant and device risk verification.

pub mod error;
pub mod riskbit;
pub mod routes;
pub mod schema;
pub mod store;

use actix_web::web;
use diesel_migrations::embed_migrations;
use idp_shared::db::Migrations;
use idp_shared::error::Shape;
use idp_shared::{IdpService, ServiceContext, ServiceKind, StartError};

/// This service's schema, for PostgreSQL and for SQLite.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: embed_migrations!("migrations/postgres"),
    sqlite: embed_migrations!("migrations/sqlite"),
};

/// What every request handler of svc-riskbits is given.
#[derive(Clone)]
pub struct State {
    pub ctx: ServiceContext,
}

impl IdpService for State {
    const KIND: ServiceKind = ServiceKind::Riskbits;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;

    async fn build(ctx: ServiceContext) -> Result<Self, StartError> {
        Ok(State { ctx })
    }

    fn configure(cfg: &mut web::ServiceConfig, state: Self) {
        configure(cfg, state)
    }
}

/// Registers health, metrics and every route of svc-riskbits.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    state.ctx.configure_common(cfg, Shape::Plain);
    routes::configure(cfg);
    cfg.app_data(web::Data::new(state));
}
