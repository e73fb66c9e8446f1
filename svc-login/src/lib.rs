//! svc-login: credentials, password policy, login, brute-force lockout, attempts, events and resets.

pub mod error;
pub mod events;
pub mod folio;
pub mod hashing;
pub mod lockout;
pub mod login;
pub mod otp;
pub mod passwords;
pub mod peers;
pub mod policy;
pub mod routes;
pub mod schema;
pub mod store;
pub mod time;

use actix_web::web;
use diesel_migrations::embed_migrations;
use idp_shared::db::Migrations;
use idp_shared::error::Shape;
use idp_shared::security::SecretBox;
use idp_shared::{IdpService, ServiceContext, ServiceKind, StartError};

/// This service's schema, for PostgreSQL and for SQLite.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: embed_migrations!("migrations/postgres"),
    sqlite: embed_migrations!("migrations/sqlite"),
};

/// What every request handler of svc-login is given.
#[derive(Clone)]
pub struct State {
    pub ctx: ServiceContext,
    /// bcrypt, one hash per core at a time.
    pub hasher: hashing::PasswordHasher,
    /// Seals and opens OTP seeds.
    pub secrets: SecretBox,
}

impl IdpService for State {
    const KIND: ServiceKind = ServiceKind::Login;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;

    async fn build(ctx: ServiceContext) -> Result<Self, StartError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let secrets = SecretBox::from_settings(&ctx.settings)
            .map_err(|e| StartError::Other(e.to_string()))?;
        Ok(State {
            ctx,
            hasher: hashing::PasswordHasher::new(cores),
            secrets,
        })
    }

    fn configure(cfg: &mut web::ServiceConfig, state: Self) {
        configure(cfg, state)
    }

    /// Starts the hourly purge of events past each tenant's `eventsExpiration`.
    async fn bootstrap(&self) -> Result<(), String> {
        events::spawn_retention_task(self.clone());
        Ok(())
    }
}

/// Registers health, metrics and every route of svc-login.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    state.ctx.configure_common(cfg, Shape::Folio);
    routes::configure(cfg);
    cfg.app_data(web::Data::new(state));
}
