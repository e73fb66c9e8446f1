//! svc-auth: the OpenID Connect provider: per-tenant signing keys, tokens, sessions,
//! discovery, JWKS.

pub mod action_tokens;
pub mod authorize;
pub mod client_auth;
pub mod clients;
pub mod codes;
pub mod error;
pub mod keys;
pub mod login_attempts;
pub mod login_flow;
pub mod pages;
pub mod required_actions;
pub mod routes;
pub mod schema;
pub mod sessions;
pub mod signing;
pub mod sso;
pub mod store;
pub mod tenants;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use actix_web::web;
use diesel_migrations::embed_migrations;
use idp_shared::db::Migrations;
use idp_shared::error::Shape;
use idp_shared::parsed::ParsedCopies;
use idp_shared::security::SecretBox;
use idp_shared::{IdpService, ServiceContext, ServiceKind, StartError};

/// This service's schema, for PostgreSQL and for SQLite.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: embed_migrations!("migrations/postgres"),
    sqlite: embed_migrations!("migrations/sqlite"),
};

/// What every request handler of svc-auth is given.
#[derive(Clone)]
pub struct State {
    pub ctx: ServiceContext,
    /// Seals and opens the private halves of signing keys.
    pub secrets: SecretBox,
    /// Serialises key creation within this process.
    pub key_maker: Arc<tokio::sync::Mutex<()>>,
    /// Key rings and unsealed signers of this process.
    pub signer_cache: Arc<signing::SignerCache>,
    /// The sessions of the refresh tokens this process issued last.
    pub recent_sessions: Arc<sessions::RecentSessions>,
    /// Clients parsed from the cache, reused while their cached JSON is unchanged.
    pub client_copies: Arc<ParsedCopies<clients::ClientInfo>>,
}

impl State {
    /// `iss` of the tenant's tokens, byte for byte what discovery publishes.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/realms/{tenant}", self.ctx.settings.public_url())
    }
}

impl IdpService for State {
    const KIND: ServiceKind = ServiceKind::Auth;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;

    async fn build(ctx: ServiceContext) -> Result<Self, StartError> {
        let secrets = SecretBox::from_settings(&ctx.settings)
            .map_err(|e| StartError::Other(e.to_string()))?;
        Ok(State {
            ctx,
            secrets,
            key_maker: Arc::new(tokio::sync::Mutex::new(())),
            signer_cache: Arc::default(),
            client_copies: Arc::default(),
            recent_sessions: Arc::default(),
        })
    }

    fn configure(cfg: &mut web::ServiceConfig, state: Self) {
        configure(cfg, state)
    }
}

/// Registers health, metrics and every route of svc-auth.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    state.ctx.configure_common(cfg, Shape::OAuth);
    routes::configure(cfg);
    cfg.app_data(web::Data::new(state));
}
