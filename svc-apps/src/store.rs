//! Every query svc-apps runs. Functions take a connection and return typed rows.

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError};
use serde_json::{Map, Value};

use crate::schema::{app_attributes, app_redirect_uris, app_roles, app_web_origins, apps};

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = apps)]
pub struct AppRow {
    pub id: String,
    pub tenant: String,
    pub client_id: String,
    pub enabled: bool,
    pub public_client: bool,
    pub bearer_only: bool,
    pub standard_flow_enabled: bool,
    pub implicit_flow_enabled: bool,
    pub direct_access_grants_enabled: bool,
    pub service_accounts_enabled: bool,
    pub secret_sealed: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = app_roles)]
pub struct RoleRow {
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub description: Option<String>,
    /// Keycloak's role attributes (name -> [values]) as JSON text.
    pub attributes: String,
}

/// An app with everything that hangs off it.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub row: AppRow,
    pub redirect_uris: Vec<String>,
    pub web_origins: Vec<String>,
    pub attributes: Map<String, Value>,
    pub roles: Vec<RoleRow>,
}

/// Inserts an app and its children in one transaction; a duplicate client id is a unique
/// violation the caller maps to 409.
pub fn insert(conn: &mut DbConnection, app: &App) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(apps::table)
            .values(&app.row)
            .execute(conn)?;
        insert_children(conn, app)?;
        for role in &app.roles {
            diesel::insert_into(app_roles::table)
                .values(role)
                .execute(conn)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Inserts an app's redirect URIs, web origins and attributes.
fn insert_children(conn: &mut DbConnection, app: &App) -> Result<(), diesel::result::Error> {
    let id = &app.row.id;
    for uri in &app.redirect_uris {
        diesel::insert_into(app_redirect_uris::table)
            .values((
                app_redirect_uris::app_id.eq(id),
                app_redirect_uris::uri.eq(uri),
            ))
            .execute(conn)?;
    }
    for origin in &app.web_origins {
        diesel::insert_into(app_web_origins::table)
            .values((
                app_web_origins::app_id.eq(id),
                app_web_origins::origin.eq(origin),
            ))
            .execute(conn)?;
    }
    for (name, value) in &app.attributes {
        diesel::insert_into(app_attributes::table)
            .values((
                app_attributes::app_id.eq(id),
                app_attributes::name.eq(name),
                app_attributes::value.eq(value.to_string()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The app of a tenant with this client id, children included.
pub fn find_by_client_id(
    conn: &mut DbConnection,
    tenant: &str,
    client_id: &str,
) -> Result<Option<App>, DbError> {
    let row = apps::table
        .filter(apps::tenant.eq(tenant))
        .filter(apps::client_id.eq(client_id))
        .first::<AppRow>(conn)
        .optional()?;
    row.map(|row| load_children(conn, row)).transpose()
}

/// The app of a tenant with this internal id, children included.
pub fn find_by_id(conn: &mut DbConnection, tenant: &str, id: &str) -> Result<Option<App>, DbError> {
    let row = apps::table
        .filter(apps::tenant.eq(tenant))
        .filter(apps::id.eq(id))
        .first::<AppRow>(conn)
        .optional()?;
    row.map(|row| load_children(conn, row)).transpose()
}

/// A tenant's apps in client-id order, children included; only the one with `client_id`
/// if given.
pub fn list(
    conn: &mut DbConnection,
    tenant: &str,
    client_id: Option<&str>,
) -> Result<Vec<App>, DbError> {
    let mut query = apps::table
        .filter(apps::tenant.eq(tenant))
        .order(apps::client_id.asc())
        .into_boxed();
    if let Some(client_id) = client_id {
        query = query.filter(apps::client_id.eq(client_id));
    }
    let rows = query.load::<AppRow>(conn)?;
    rows.into_iter()
        .map(|row| load_children(conn, row))
        .collect()
}

fn load_children(conn: &mut DbConnection, row: AppRow) -> Result<App, DbError> {
    let redirect_uris = app_redirect_uris::table
        .filter(app_redirect_uris::app_id.eq(&row.id))
        .select(app_redirect_uris::uri)
        .order(app_redirect_uris::uri.asc())
        .load(conn)?;
    let web_origins = app_web_origins::table
        .filter(app_web_origins::app_id.eq(&row.id))
        .select(app_web_origins::origin)
        .order(app_web_origins::origin.asc())
        .load(conn)?;
    let pairs: Vec<(String, String)> = app_attributes::table
        .filter(app_attributes::app_id.eq(&row.id))
        .select((app_attributes::name, app_attributes::value))
        .load(conn)?;
    let attributes = pairs
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v)))
        .collect();
    let roles = app_roles::table
        .filter(app_roles::app_id.eq(&row.id))
        .order(app_roles::name.asc())
        .load::<RoleRow>(conn)?;
    Ok(App {
        row,
        redirect_uris,
        web_origins,
        attributes,
        roles,
    })
}

/// Writes an app's columns, redirect URIs, web origins and attributes as given (its roles
/// have their own functions). False if the app does not exist; a client id taken by another
/// app of the tenant is a unique violation.
pub fn replace(conn: &mut DbConnection, app: &App) -> Result<bool, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        let r = &app.row;
        let n = diesel::update(apps::table.filter(apps::id.eq(&r.id)))
            .set((
                apps::client_id.eq(&r.client_id),
                apps::enabled.eq(r.enabled),
                apps::public_client.eq(r.public_client),
                apps::bearer_only.eq(r.bearer_only),
                apps::standard_flow_enabled.eq(r.standard_flow_enabled),
                apps::implicit_flow_enabled.eq(r.implicit_flow_enabled),
                apps::direct_access_grants_enabled.eq(r.direct_access_grants_enabled),
                apps::service_accounts_enabled.eq(r.service_accounts_enabled),
                apps::secret_sealed.eq(&r.secret_sealed),
                apps::updated_at.eq(r.updated_at),
            ))
            .execute(conn)?;
        if n == 0 {
            return Ok(false);
        }
        diesel::delete(app_redirect_uris::table.filter(app_redirect_uris::app_id.eq(&r.id)))
            .execute(conn)?;
        diesel::delete(app_web_origins::table.filter(app_web_origins::app_id.eq(&r.id)))
            .execute(conn)?;
        diesel::delete(app_attributes::table.filter(app_attributes::app_id.eq(&r.id)))
            .execute(conn)?;
        insert_children(conn, app)?;
        Ok(true)
    })
}

/// Sets an app's sealed secret; false if the app does not exist.
pub fn set_secret(
    conn: &mut DbConnection,
    id: &str,
    sealed: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(apps::table.filter(apps::id.eq(id)))
        .set((apps::secret_sealed.eq(sealed), apps::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n > 0)
}

fn delete_children(conn: &mut DbConnection, ids: &[String]) -> Result<(), DbError> {
    diesel::delete(app_redirect_uris::table.filter(app_redirect_uris::app_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(app_web_origins::table.filter(app_web_origins::app_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(app_attributes::table.filter(app_attributes::app_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(app_roles::table.filter(app_roles::app_id.eq_any(ids))).execute(conn)?;
    Ok(())
}

/// Deletes an app and everything that hangs off it; false if it did not exist.
pub fn delete(conn: &mut DbConnection, tenant: &str, id: &str) -> Result<bool, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        let ids: Vec<String> = apps::table
            .filter(apps::tenant.eq(tenant))
            .filter(apps::id.eq(id))
            .select(apps::id)
            .load(conn)?;
        if ids.is_empty() {
            return Ok(false);
        }
        delete_children(conn, &ids)?;
        diesel::delete(apps::table.filter(apps::id.eq_any(&ids))).execute(conn)?;
        Ok(true)
    })
}

/// Deletes every app of a tenant (tenant deletion); returns their client ids.
pub fn delete_tenant(conn: &mut DbConnection, tenant: &str) -> Result<Vec<String>, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        let rows: Vec<(String, String)> = apps::table
            .filter(apps::tenant.eq(tenant))
            .select((apps::id, apps::client_id))
            .load(conn)?;
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
        delete_children(conn, &ids)?;
        diesel::delete(apps::table.filter(apps::tenant.eq(tenant))).execute(conn)?;
        Ok(rows.into_iter().map(|(_, c)| c).collect())
    })
}

/// Adds a client role; a duplicate name is a unique violation.
pub fn insert_role(conn: &mut DbConnection, role: &RoleRow) -> Result<(), DbError> {
    diesel::insert_into(app_roles::table)
        .values(role)
        .execute(conn)?;
    Ok(())
}

/// Sets a client role's name, description and attributes; false if it does not exist.
pub fn update_role(conn: &mut DbConnection, role: &RoleRow) -> Result<bool, DbError> {
    let n = diesel::update(app_roles::table.filter(app_roles::id.eq(&role.id)))
        .set((
            app_roles::name.eq(&role.name),
            app_roles::description.eq(&role.description),
            app_roles::attributes.eq(&role.attributes),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

/// Deletes a client role; false if it did not exist.
pub fn delete_role(conn: &mut DbConnection, role_id: &str) -> Result<bool, DbError> {
    let n = diesel::delete(app_roles::table.filter(app_roles::id.eq(role_id))).execute(conn)?;
    Ok(n > 0)
}

/// Client ids of a tenant's apps, in order.
pub fn client_ids(conn: &mut DbConnection, tenant: &str) -> Result<Vec<String>, DbError> {
    Ok(apps::table
        .filter(apps::tenant.eq(tenant))
        .select(apps::client_id)
        .order(apps::client_id.asc())
        .load(conn)?)
}
