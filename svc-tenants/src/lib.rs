//! svc-tenants: tenants (realms), their settings, app settings and realm roles.

pub mod routes;
pub mod schema;

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

/// What every request handler of svc-tenants is given.
#[derive(Clone)]
pub struct State {
    pub ctx: ServiceContext,
}

impl IdpService for State {
    const KIND: ServiceKind = ServiceKind::Tenants;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;

    async fn build(ctx: ServiceContext) -> Result<Self, StartError> {
        Ok(State { ctx })
    }

    fn configure(cfg: &mut web::ServiceConfig, state: Self) {
        configure(cfg, state)
    }
}

/// Registers health, metrics and every route of svc-tenants.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    state.ctx.configure_common(cfg, Shape::Kobil(1));
    routes::configure(cfg);
    cfg.app_data(web::Data::new(state));
}
