//! What the admin APIs (Keycloak's and KOBIL's) do to apps: create, update, delete, and the
//! secret. Every change drops svc-auth's cached copy of the client, so it counts at once.

use idp_shared::ServiceKind;
use idp_shared::cache_keys::{client_cache_key, web_origins_cache_key};
use idp_shared::names::now_millis;
use idp_shared::security::random_token;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use crate::client::{REALM_MANAGEMENT, Switches, new_app};
use crate::error::Error;
use crate::store::{self, App};
use crate::{State, input, secret_context};

/// Drops svc-auth's cached copy of a client (also a cached "no such client") and the
/// gateway's copy of the tenant's allowed origins.
pub async fn forget_client(state: &State, tenant: &str, client_id: &str) -> Result<(), Error> {
    let cache = &state.ctx.cache;
    cache.delete(&client_cache_key(tenant, client_id)).await?;
    cache.delete(&web_origins_cache_key(tenant)).await?;
    Ok(())
}

/// A new client secret: 256 random bits.
pub fn generate_secret() -> String {
    random_token(32)
}

/// Whether the tenant exists (asked of svc-tenants), so no app is made for a tenant that is
/// not there.
pub async fn tenant_exists(state: &State, tenant: &str) -> Result<bool, Error> {
    let path = format!(
        "/internal/tenants/{}",
        utf8_percent_encode(tenant, NON_ALPHANUMERIC)
    );
    let reply = state
        .ctx
        .client
        .request(reqwest::Method::GET, ServiceKind::Tenants, &path)
        .send()
        .await
        .map_err(|e| Error::Upstream {
            service: "svc-tenants",
            cause: e.to_string(),
        })?;
    match reply.status().as_u16() {
        200 => Ok(true),
        404 => Ok(false),
        s => Err(Error::Upstream {
            service: "svc-tenants",
            cause: format!("tenant lookup answered {s}"),
        }),
    }
}

pub async fn find(state: &State, tenant: &str, id: &str) -> Result<App, Error> {
    let (t, i) = (tenant.to_owned(), id.to_owned());
    state
        .ctx
        .db
        .run(move |conn| store::find_by_id(conn, &t, &i))
        .await?
        .ok_or_else(|| Error::AppNotFound(id.to_owned()))
}

pub async fn find_by_client_id(state: &State, tenant: &str, client_id: &str) -> Result<App, Error> {
    let (t, c) = (tenant.to_owned(), client_id.to_owned());
    state
        .ctx
        .db
        .run(move |conn| store::find_by_client_id(conn, &t, &c))
        .await?
        .ok_or_else(|| Error::AppNotFound(client_id.to_owned()))
}

/// A created app and, for a confidential one, its secret.
pub struct Created {
    pub app: App,
    pub secret: Option<String>,
}

/// Creates an app from a client representation. A confidential client gets the secret it
/// names, or a generated one.
pub async fn create(
    state: &State,
    tenant: &str,
    fields: &Map<String, Value>,
) -> Result<Created, Error> {
    let now = now_millis();
    let mut app = new_app(tenant, "", Switches::default(), Map::new(), &[], now);
    match fields.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) => {
            input::check_internal_id(id).map_err(Error::Invalid)?;
            app.row.id = id.clone();
        }
        Some(_) => return Err(Error::Invalid("id must be a string".into())),
    }
    let requested = input::apply(&mut app, fields).map_err(Error::Invalid)?;
    if app.row.client_id.is_empty() {
        return Err(Error::Invalid("clientId is required".into()));
    }
    let secret = (!app.row.public_client).then(|| requested.unwrap_or_else(generate_secret));
    app.row.secret_sealed = secret.as_ref().map(|s| {
        state
            .secrets
            .seal(s.as_bytes(), &secret_context(&app.row.id))
    });
    let client_id = app.row.client_id.clone();
    let stored = app.clone();
    match state
        .ctx
        .db
        .run(move |conn| store::insert(conn, &stored))
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_unique_violation() => return Err(Error::AppExists(client_id)),
        Err(e) => return Err(e.into()),
    }
    forget_client(state, tenant, &client_id).await?;
    tracing::info!(tenant, client_id = %client_id, "created a client");
    Ok(Created { app, secret })
}

/// Applies a client representation to a stored app (Keycloak's partial update).
pub async fn update(
    state: &State,
    tenant: &str,
    mut app: App,
    fields: &Map<String, Value>,
) -> Result<(), Error> {
    let old_client_id = app.row.client_id.clone();
    let requested = input::apply(&mut app, fields).map_err(Error::Invalid)?;
    if old_client_id == REALM_MANAGEMENT && app.row.client_id != REALM_MANAGEMENT {
        return Err(Error::Invalid(
            "realm-management holds the admin roles and keeps its clientId".into(),
        ));
    }
    if app.row.public_client {
        // A public client authenticates with nothing; a leftover secret would still work.
        app.row.secret_sealed = None;
    } else if let Some(secret) = requested {
        app.row.secret_sealed = Some(
            state
                .secrets
                .seal(secret.as_bytes(), &secret_context(&app.row.id)),
        );
    } else if app.row.secret_sealed.is_none() {
        app.row.secret_sealed = Some(
            state
                .secrets
                .seal(generate_secret().as_bytes(), &secret_context(&app.row.id)),
        );
    }
    app.row.updated_at = now_millis();
    let client_id = app.row.client_id.clone();
    let id = app.row.id.clone();
    match state
        .ctx
        .db
        .run(move |conn| store::replace(conn, &app))
        .await
    {
        Ok(true) => {}
        Ok(false) => return Err(Error::AppNotFound(id)),
        Err(e) if e.is_unique_violation() => return Err(Error::AppExists(client_id)),
        Err(e) => return Err(e.into()),
    }
    forget_client(state, tenant, &old_client_id).await?;
    if client_id != old_client_id {
        forget_client(state, tenant, &client_id).await?;
    }
    Ok(())
}

/// Deletes an app (not `realm-management`, whose roles grant the admin API).
pub async fn delete(state: &State, tenant: &str, app: &App) -> Result<(), Error> {
    if app.row.client_id == REALM_MANAGEMENT {
        return Err(Error::Invalid(
            "realm-management holds the admin roles and cannot be deleted".into(),
        ));
    }
    let (t, id) = (tenant.to_owned(), app.row.id.clone());
    if !state
        .ctx
        .db
        .run(move |conn| store::delete(conn, &t, &id))
        .await?
    {
        return Err(Error::AppNotFound(app.row.id.clone()));
    }
    forget_client(state, tenant, &app.row.client_id).await?;
    tracing::info!(tenant, client_id = %app.row.client_id, "deleted a client");
    Ok(())
}

/// The app's secret in clear, if it has one.
pub fn secret_of(state: &State, app: &App) -> Result<Option<String>, Error> {
    let Some(sealed) = &app.row.secret_sealed else {
        return Ok(None);
    };
    let bytes = state.secrets.open(sealed, &secret_context(&app.row.id))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Error::Sealed(idp_shared::security::SecurityError::Unseal))
}

/// Gives a confidential app a new secret, valid at once; the old one stops working.
pub async fn regenerate_secret(state: &State, tenant: &str, app: &App) -> Result<String, Error> {
    if app.row.public_client {
        return Err(Error::Invalid(format!(
            "{} is a public client and has no secret",
            app.row.client_id
        )));
    }
    let secret = generate_secret();
    let sealed = state
        .secrets
        .seal(secret.as_bytes(), &secret_context(&app.row.id));
    let id = app.row.id.clone();
    let now = now_millis();
    if !state
        .ctx
        .db
        .run(move |conn| store::set_secret(conn, &id, &sealed, now))
        .await?
    {
        return Err(Error::AppNotFound(app.row.id.clone()));
    }
    forget_client(state, tenant, &app.row.client_id).await?;
    Ok(secret)
}

/// Removes every app of a tenant (tenant deletion).
pub async fn delete_tenant(state: &State, tenant: &str) -> Result<usize, Error> {
    let t = tenant.to_owned();
    let client_ids = state
        .ctx
        .db
        .run(move |conn| store::delete_tenant(conn, &t))
        .await?;
    for client_id in &client_ids {
        forget_client(state, tenant, client_id).await?;
    }
    Ok(client_ids.len())
}
