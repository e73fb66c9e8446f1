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
        let id = &app.row.id;
        diesel::insert_into(apps::table)
            .values(&app.row)
            .execute(conn)?;
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
        for role in &app.roles {
            diesel::insert_into(app_roles::table)
                .values(role)
                .execute(conn)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The app of a tenant with this client id, children included.
pub fn find_by_client_id(
    conn: &mut DbConnection,
    tenant: &str,
    client_id: &str,
) -> Result<Option<App>, DbError> {
    let Some(row) = apps::table
        .filter(apps::tenant.eq(tenant))
        .filter(apps::client_id.eq(client_id))
        .first::<AppRow>(conn)
        .optional()?
    else {
        return Ok(None);
    };
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
    Ok(Some(App {
        row,
        redirect_uris,
        web_origins,
        attributes,
        roles,
    }))
}

/// Client ids of a tenant's apps, in order.
pub fn client_ids(conn: &mut DbConnection, tenant: &str) -> Result<Vec<String>, DbError> {
    Ok(apps::table
        .filter(apps::tenant.eq(tenant))
        .select(apps::client_id)
        .order(apps::client_id.asc())
        .load(conn)?)
}
