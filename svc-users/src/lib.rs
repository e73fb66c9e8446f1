//! svc-users: user profiles, attributes, groups, role mappings, addresses and reports.

pub mod accounts;
pub mod addresses;
pub mod error;
pub mod generation;
pub mod groups;
pub mod kobil;
pub mod model;
pub mod peers;
pub mod query;
pub mod routes;
pub mod schema;
pub mod security_report;
pub mod store;

use actix_web::web;
use diesel_migrations::embed_migrations;
use idp_shared::admin::{ADMIN_REALM_ROLES, MASTER, REALM_MANAGEMENT};
use idp_shared::db::Migrations;
use idp_shared::error::Shape;
use idp_shared::names::now_millis;
use idp_shared::{IdpService, ServiceContext, ServiceKind, StartError};

use crate::error::Error;

/// This service's schema, for PostgreSQL and for SQLite.
pub const MIGRATIONS: Migrations = Migrations {
    postgres: embed_migrations!("migrations/postgres"),
    sqlite: embed_migrations!("migrations/sqlite"),
};

/// What every request handler of svc-users is given.
#[derive(Clone)]
pub struct State {
    pub ctx: ServiceContext,
}

impl IdpService for State {
    const KIND: ServiceKind = ServiceKind::Users;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;

    async fn build(ctx: ServiceContext) -> Result<Self, StartError> {
        Ok(State { ctx })
    }

    fn configure(cfg: &mut web::ServiceConfig, state: Self) {
        configure(cfg, state)
    }

    /// The administrator of `master`, so Keycloak's admin tools can log in on first start.
    async fn bootstrap(&self) -> Result<(), String> {
        ensure_bootstrap_admin(self)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Creates `master`'s administrator unless it exists, and gives it a password unless it has
/// one. The password comes from `bootstrap_admin_password`; without one no administrator is
/// made. A password the all-in-one binary generated is printed once, when it is set (never
/// logged).
async fn ensure_bootstrap_admin(state: &State) -> Result<(), Error> {
    let settings = &state.ctx.settings;
    let username = settings
        .bootstrap_admin_username
        .clone()
        .unwrap_or_else(|| "admin".to_owned());
    let configured = settings
        .bootstrap_admin_password
        .as_ref()
        .map(|p| p.expose().to_owned());
    let Some(password) = configured else {
        tracing::info!(
            "no bootstrap administrator: set IDP_BOOTSTRAP_ADMIN_PASSWORD to create one"
        );
        return Ok(());
    };
    let name = model::normalize_username(&username)?;
    let lookup = name.clone();
    let existing = state
        .ctx
        .db
        .run(move |conn| store::find_by_username(conn, MASTER, &lookup))
        .await?;
    let user_id = match existing {
        Some(user) => {
            let credentials = peers::credentials(state, MASTER, &user.row.id).await?;
            if credentials.as_array().is_some_and(|c| !c.is_empty()) {
                return Ok(());
            }
            user.row.id
        }
        None => {
            let (app_id, _) = peers::app_by_client_id(state, MASTER, REALM_MANAGEMENT)
                .await?
                .ok_or_else(|| {
                    Error::Upstream("master has no realm-management client yet".into())
                })?;
            let input = model::UserInput {
                username: Some(name.clone()),
                enabled: Some(true),
                ..Default::default()
            };
            let user = input.into_new_user(MASTER, now_millis())?;
            let grants = store::Grants {
                realm_roles: ADMIN_REALM_ROLES.iter().map(|r| r.to_string()).collect(),
                client_roles: vec![store::ClientRoleGrant {
                    app_id,
                    client_id: REALM_MANAGEMENT.to_owned(),
                    role: store::REALM_ADMIN_CLIENT_ROLE.to_owned(),
                }],
                group_ids: Vec::new(),
            };
            let stored = user.clone();
            match state
                .ctx
                .db
                .run(move |conn| store::insert_user(conn, &stored, &grants))
                .await
            {
                Ok(()) => {}
                // Another replica made it first: its start sets the password.
                Err(e) if e.is_unique_violation() => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            user.row.id
        }
    };
    let generated = settings.bootstrap_admin_password_generated;
    peers::set_password(
        state,
        peers::PasswordChange {
            tenant: MASTER,
            user_id: &user_id,
            value: &password,
            temporary: false,
            username: &name,
            email: None,
            reason: "create",
        },
    )
    .await?;
    if generated {
        // Printed to the terminal once, not logged: it is a secret.
        println!(
            "\n  master administrator: {name}\n  password (shown once): {password}\n  \
             (set IDP_BOOTSTRAP_ADMIN_PASSWORD to choose it)\n"
        );
    }
    tracing::info!(username = %name, "bootstrap administrator of master created");
    Ok(())
}

/// Registers health, metrics and every route of svc-users.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    state.ctx.configure_common(cfg, Shape::Kobil(5));
    cfg.service(
        web::scope("")
            .wrap(actix_web::middleware::from_fn(
                generation::renew_after_change,
            ))
            .configure(routes::configure),
    );
    cfg.app_data(web::Data::new(state));
}
