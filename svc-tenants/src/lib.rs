//! svc-tenants: tenants (realms), their settings, app settings and realm roles.

// Keycloak's realm defaults are one large `json!` literal (realm.rs).
#![recursion_limit = "256"]

pub mod calls;
pub mod creation;
pub mod error;
pub mod mail;
pub mod realm;
pub mod roles;
pub mod routes;
pub mod schema;
pub mod store;

use actix_web::web;
use diesel_migrations::embed_migrations;
use idp_shared::db::Migrations;
use idp_shared::error::Shape;
use idp_shared::security::SecretBox;
use idp_shared::{IdpService, ServiceContext, ServiceKind, StartError};
use serde_json::{Map, Value};

use crate::store::{STATUS_ACTIVE, Tenant, TenantRow};

/// This service's schema, for PostgreSQL and for SQLite.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: embed_migrations!("migrations/postgres"),
    sqlite: embed_migrations!("migrations/sqlite"),
};

/// The tenant that administers the others, created on first start.
pub const MASTER: &str = "master";

/// What every request handler of svc-tenants is given.
#[derive(Clone)]
pub struct State {
    pub ctx: ServiceContext,
    /// Seals and opens SMTP passwords and the parameters of queued mail.
    pub secrets: SecretBox,
    /// Wakes this replica's mail sender.
    pub outbox: mail::Outbox,
}

impl IdpService for State {
    const KIND: ServiceKind = ServiceKind::Tenants;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;

    /// Also starts the mail sender, which waits for the migrations and stops with the state.
    async fn build(ctx: ServiceContext) -> Result<Self, StartError> {
        let secrets = SecretBox::from_settings(&ctx.settings)
            .map_err(|e| StartError::Other(e.to_string()))?;
        let state = State {
            ctx,
            secrets,
            outbox: mail::Outbox::new(),
        };
        mail::sender::spawn(&state);
        Ok(state)
    }

    fn configure(cfg: &mut web::ServiceConfig, state: Self) {
        configure(cfg, state)
    }

    /// Creates `master` unless it exists, and gives it the roles it lacks. Replicas starting
    /// together may both try: the loser's insert is a unique violation, which means the work
    /// is done (the roles are checked again on the next start).
    async fn bootstrap(&self) -> Result<(), String> {
        let now = idp_shared::names::now_millis();
        let existing = self
            .ctx
            .db
            .run(|conn| store::find_by_name(conn, MASTER))
            .await
            .map_err(|e| e.to_string())?;
        let tenant_id = match existing {
            Some(t) => t.row.id,
            None => {
                let tenant = new_tenant(MASTER, true, Map::new(), now);
                let id = tenant.row.id.clone();
                let roles = roles::realm_defaults(MASTER, &id, now);
                match self
                    .ctx
                    .db
                    .run(move |conn| store::create_realm(conn, &tenant, &roles))
                    .await
                {
                    Ok(()) => {
                        tracing::info!(tenant = MASTER, "created the master tenant");
                        return Ok(());
                    }
                    Err(e) if e.is_unique_violation() => return Ok(()),
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        let roles = roles::realm_defaults(MASTER, &tenant_id, now);
        match self
            .ctx
            .db
            .run(move |conn| store::ensure_roles(conn, &tenant_id, &roles))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.is_unique_violation() => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Registers health, metrics and every route of svc-tenants.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    state.ctx.configure_common(cfg, Shape::Kobil(1));
    routes::configure(cfg, state.ctx.settings.http.max_body_bytes);
    cfg.app_data(web::Data::new(state));
}

/// A tenant about to be stored: Keycloak's defaults are not stored, only what differs.
pub fn new_tenant(name: &str, enabled: bool, attributes: Map<String, Value>, now: i64) -> Tenant {
    Tenant {
        row: TenantRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            enabled,
            not_before: 0,
            creation_status: STATUS_ACTIVE.to_owned(),
            created_at: now,
            updated_at: now,
        },
        attributes,
        settings: Map::new(),
    }
}

/// The full realm representation: defaults < stored attributes < columns.
pub fn representation(tenant: &Tenant) -> Value {
    let mut rep = realm::defaults();
    rep.extend(tenant.attributes.clone());
    // The realm's `attributes` map is its settings (kept one row per key).
    let mut attributes = match rep.remove("attributes") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    attributes.extend(tenant.settings.clone());
    rep.insert("attributes".into(), Value::Object(attributes));
    rep.insert("id".into(), Value::String(tenant.row.id.clone()));
    rep.insert("realm".into(), Value::String(tenant.row.name.clone()));
    rep.insert("enabled".into(), Value::Bool(tenant.row.enabled));
    rep.insert(
        "notBefore".into(),
        Value::from(tenant.row.not_before / 1000),
    );
    rep.insert(
        "realmCreationStatus".into(),
        Value::String(tenant.row.creation_status.clone()),
    );
    Value::Object(rep)
}
