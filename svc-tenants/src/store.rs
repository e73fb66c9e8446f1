//! Every query svc-tenants runs. Functions take a connection and return typed rows.

use std::collections::HashMap;

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError};
use serde_json::{Map, Value};

pub mod mail;

use crate::schema::{
    realm_role_composites, realm_roles, tenant_attributes, tenant_creations, tenant_settings,
    tenants,
};

/// Where a tenant is in its creation (KOBIL's realmCreationStatus).
pub const STATUS_ACTIVE: &str = "ACTIVE";
/// A KOBIL creation has started and not finished (or is running now).
pub const STATUS_REQUESTED: &str = "REQUESTED";
/// A KOBIL creation stopped at a failed step; the same request resumes it.
pub const STATUS_BLOCKED: &str = "BLOCKED";

#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub not_before: i64,
    pub creation_status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A tenant with the rest of its representation.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub row: TenantRow,
    /// Top-level fields of the realm representation that differ from Keycloak's defaults.
    pub attributes: Map<String, Value>,
    /// The realm's key-value settings: the representation's `attributes` map.
    pub settings: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = realm_roles)]
pub struct RoleRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    /// Keycloak's role attributes (name -> [values]) as JSON text.
    pub attributes: String,
    pub created_at: i64,
}

/// A realm role to create, its composites named (realm roles of the same tenant).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRole {
    pub row: RoleRow,
    pub composites: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = tenant_creations, treat_none_as_null = true)]
pub struct CreationRow {
    pub tenant_id: String,
    pub admin_username: String,
    pub admin_email: String,
    pub admin_user_id: Option<String>,
    pub default_app_id: Option<String>,
    pub steps: String,
    pub updated_at: i64,
}

/// Inserts a tenant, its attributes and settings in one transaction; a duplicate name is a
/// unique violation the caller maps to 409.
pub fn insert(conn: &mut DbConnection, tenant: &Tenant) -> Result<(), DbError> {
    create_realm(conn, tenant, &[])
}

/// Inserts a tenant with its roles (and their composites) in one transaction.
pub fn create_realm(
    conn: &mut DbConnection,
    tenant: &Tenant,
    roles: &[NewRole],
) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(|conn| insert_realm_in(conn, tenant, roles))
}

/// Inserts a tenant with its roles and the record of its KOBIL creation, in one transaction.
pub fn create_realm_with_creation(
    conn: &mut DbConnection,
    tenant: &Tenant,
    roles: &[NewRole],
    creation: &CreationRow,
) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        insert_realm_in(conn, tenant, roles)?;
        diesel::insert_into(tenant_creations::table)
            .values(creation)
            .execute(conn)?;
        Ok(())
    })
}

fn insert_realm_in(
    conn: &mut DbConnection,
    tenant: &Tenant,
    roles: &[NewRole],
) -> Result<(), DbError> {
    {
        let r = &tenant.row;
        diesel::insert_into(tenants::table)
            .values((
                tenants::id.eq(&r.id),
                tenants::name.eq(&r.name),
                tenants::enabled.eq(r.enabled),
                tenants::not_before.eq(r.not_before),
                tenants::creation_status.eq(&r.creation_status),
                tenants::created_at.eq(r.created_at),
                tenants::updated_at.eq(r.updated_at),
            ))
            .execute(conn)?;
        for (name, value) in &tenant.attributes {
            diesel::insert_into(tenant_attributes::table)
                .values((
                    tenant_attributes::tenant_id.eq(&r.id),
                    tenant_attributes::name.eq(name),
                    tenant_attributes::value.eq(value.to_string()),
                ))
                .execute(conn)?;
        }
        for (name, value) in &tenant.settings {
            diesel::insert_into(tenant_settings::table)
                .values((
                    tenant_settings::tenant_id.eq(&r.id),
                    tenant_settings::name.eq(name),
                    tenant_settings::value.eq(value.to_string()),
                ))
                .execute(conn)?;
        }
        ensure_roles_in(conn, &r.id, roles)
    }
}

/// Adds whichever of `roles` the tenant lacks, and whichever of their composite links are
/// missing (idempotent: what the bootstrap runs at every start).
pub fn ensure_roles(
    conn: &mut DbConnection,
    tenant_id: &str,
    roles: &[NewRole],
) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(|conn| ensure_roles_in(conn, tenant_id, roles))
}

fn ensure_roles_in(
    conn: &mut DbConnection,
    tenant_id: &str,
    roles: &[NewRole],
) -> Result<(), DbError> {
    let mut ids: HashMap<String, String> = realm_roles::table
        .filter(realm_roles::tenant_id.eq(tenant_id))
        .select((realm_roles::name, realm_roles::id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    for role in roles {
        if !ids.contains_key(&role.row.name) {
            diesel::insert_into(realm_roles::table)
                .values(&role.row)
                .execute(conn)?;
            ids.insert(role.row.name.clone(), role.row.id.clone());
        }
    }
    for role in roles {
        let parent = &ids[&role.row.name];
        for child in &role.composites {
            let Some(child) = ids.get(child) else {
                continue;
            };
            let present = realm_role_composites::table
                .filter(realm_role_composites::parent_id.eq(parent))
                .filter(realm_role_composites::child_id.eq(child))
                .count()
                .get_result::<i64>(conn)?;
            if present == 0 {
                diesel::insert_into(realm_role_composites::table)
                    .values((
                        realm_role_composites::parent_id.eq(parent),
                        realm_role_composites::child_id.eq(child),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

fn json_pairs(pairs: Vec<(String, String)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v)))
        .collect()
}

fn load_tenant(conn: &mut DbConnection, row: TenantRow) -> Result<Tenant, DbError> {
    let attributes = json_pairs(
        tenant_attributes::table
            .filter(tenant_attributes::tenant_id.eq(&row.id))
            .select((tenant_attributes::name, tenant_attributes::value))
            .load(conn)?,
    );
    let settings = json_pairs(
        tenant_settings::table
            .filter(tenant_settings::tenant_id.eq(&row.id))
            .select((tenant_settings::name, tenant_settings::value))
            .order(tenant_settings::name.asc())
            .load(conn)?,
    );
    Ok(Tenant {
        row,
        attributes,
        settings,
    })
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> Result<Option<Tenant>, DbError> {
    let Some(row) = tenants::table
        .filter(tenants::name.eq(name))
        .select(tenants::all_columns)
        .first::<TenantRow>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    Ok(Some(load_tenant(conn, row)?))
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> Result<Option<Tenant>, DbError> {
    let Some(row) = tenants::table
        .filter(tenants::id.eq(id))
        .select(tenants::all_columns)
        .first::<TenantRow>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    Ok(Some(load_tenant(conn, row)?))
}

/// Every tenant with its representation, in name order.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Tenant>, DbError> {
    let rows = tenants::table
        .select(tenants::all_columns)
        .order(tenants::name.asc())
        .load::<TenantRow>(conn)?;
    rows.into_iter().map(|row| load_tenant(conn, row)).collect()
}

/// Every tenant's name, in name order.
pub fn names(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    Ok(tenants::table
        .select(tenants::name)
        .order(tenants::name.asc())
        .load(conn)?)
}

/// What an update of a tenant changes; `None` leaves a column as it is.
#[derive(Debug, Default, Clone)]
pub struct TenantChanges {
    pub enabled: Option<bool>,
    pub not_before: Option<i64>,
    pub creation_status: Option<String>,
    /// Top-level representation fields to set.
    pub attributes: Map<String, Value>,
    /// Settings to set (`Some`) or remove (`None`).
    pub settings: Vec<(String, Option<Value>)>,
}

/// Applies `changes` to the tenant in one transaction. Returns false if it does not exist.
pub fn update(
    conn: &mut DbConnection,
    tenant_id: &str,
    changes: &TenantChanges,
    now: i64,
) -> Result<bool, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        let target = tenants::table.filter(tenants::id.eq(tenant_id));
        let n = diesel::update(target)
            .set(tenants::updated_at.eq(now))
            .execute(conn)?;
        if n == 0 {
            return Ok(false);
        }
        if let Some(enabled) = changes.enabled {
            diesel::update(target)
                .set(tenants::enabled.eq(enabled))
                .execute(conn)?;
        }
        if let Some(not_before) = changes.not_before {
            diesel::update(target)
                .set(tenants::not_before.eq(not_before))
                .execute(conn)?;
        }
        if let Some(status) = &changes.creation_status {
            diesel::update(target)
                .set(tenants::creation_status.eq(status))
                .execute(conn)?;
        }
        for (name, value) in &changes.attributes {
            diesel::delete(
                tenant_attributes::table
                    .filter(tenant_attributes::tenant_id.eq(tenant_id))
                    .filter(tenant_attributes::name.eq(name)),
            )
            .execute(conn)?;
            diesel::insert_into(tenant_attributes::table)
                .values((
                    tenant_attributes::tenant_id.eq(tenant_id),
                    tenant_attributes::name.eq(name),
                    tenant_attributes::value.eq(value.to_string()),
                ))
                .execute(conn)?;
        }
        for (name, value) in &changes.settings {
            let row = tenant_settings::table
                .filter(tenant_settings::tenant_id.eq(tenant_id))
                .filter(tenant_settings::name.eq(name));
            match value {
                None => {
                    diesel::delete(row).execute(conn)?;
                }
                Some(value) => {
                    let n = diesel::update(row)
                        .set(tenant_settings::value.eq(value.to_string()))
                        .execute(conn)?;
                    if n == 0 {
                        diesel::insert_into(tenant_settings::table)
                            .values((
                                tenant_settings::tenant_id.eq(tenant_id),
                                tenant_settings::name.eq(name),
                                tenant_settings::value.eq(value.to_string()),
                            ))
                            .execute(conn)?;
                    }
                }
            }
        }
        Ok(true)
    })
}

/// Removes one setting; false if the tenant had no such setting.
pub fn delete_setting(
    conn: &mut DbConnection,
    tenant_id: &str,
    name: &str,
) -> Result<bool, DbError> {
    let n = diesel::delete(
        tenant_settings::table
            .filter(tenant_settings::tenant_id.eq(tenant_id))
            .filter(tenant_settings::name.eq(name)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Removes the tenant and everything that hangs off it; false if it did not exist.
pub fn delete(conn: &mut DbConnection, tenant_id: &str) -> Result<bool, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        // Children first: SQLite enforces the foreign keys only per connection setting, and
        // the explicit order keeps both backends alike.
        let role_ids: Vec<String> = realm_roles::table
            .filter(realm_roles::tenant_id.eq(tenant_id))
            .select(realm_roles::id)
            .load(conn)?;
        diesel::delete(
            realm_role_composites::table.filter(realm_role_composites::parent_id.eq_any(&role_ids)),
        )
        .execute(conn)?;
        diesel::delete(realm_roles::table.filter(realm_roles::tenant_id.eq(tenant_id)))
            .execute(conn)?;
        diesel::delete(tenant_settings::table.filter(tenant_settings::tenant_id.eq(tenant_id)))
            .execute(conn)?;
        diesel::delete(tenant_attributes::table.filter(tenant_attributes::tenant_id.eq(tenant_id)))
            .execute(conn)?;
        diesel::delete(tenant_creations::table.filter(tenant_creations::tenant_id.eq(tenant_id)))
            .execute(conn)?;
        mail::delete_tenant(conn, tenant_id)?;
        let n = diesel::delete(tenants::table.filter(tenants::id.eq(tenant_id))).execute(conn)?;
        Ok(n > 0)
    })
}

// ---- realm roles ----

/// A composite role's id and the id of a role it holds.
pub type CompositeLink = (String, String);

/// A tenant's realm roles in name order, and each composite role's children (by id).
pub fn roles(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> Result<(Vec<RoleRow>, Vec<CompositeLink>), DbError> {
    let roles = realm_roles::table
        .filter(realm_roles::tenant_id.eq(tenant_id))
        .order(realm_roles::name.asc())
        .load::<RoleRow>(conn)?;
    let ids: Vec<&String> = roles.iter().map(|r| &r.id).collect();
    let links = realm_role_composites::table
        .filter(realm_role_composites::parent_id.eq_any(ids))
        .select((
            realm_role_composites::parent_id,
            realm_role_composites::child_id,
        ))
        .load::<(String, String)>(conn)?;
    Ok((roles, links))
}

pub fn find_role(
    conn: &mut DbConnection,
    tenant_id: &str,
    name: &str,
) -> Result<Option<RoleRow>, DbError> {
    Ok(realm_roles::table
        .filter(realm_roles::tenant_id.eq(tenant_id))
        .filter(realm_roles::name.eq(name))
        .first::<RoleRow>(conn)
        .optional()?)
}

pub fn find_role_by_id(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Option<RoleRow>, DbError> {
    Ok(realm_roles::table
        .filter(realm_roles::tenant_id.eq(tenant_id))
        .filter(realm_roles::id.eq(id))
        .first::<RoleRow>(conn)
        .optional()?)
}

/// The names of the roles a composite role contains, in order.
pub fn composite_names(conn: &mut DbConnection, role_id: &str) -> Result<Vec<String>, DbError> {
    Ok(realm_role_composites::table
        .inner_join(realm_roles::table.on(realm_roles::id.eq(realm_role_composites::child_id)))
        .filter(realm_role_composites::parent_id.eq(role_id))
        .select(realm_roles::name)
        .order(realm_roles::name.asc())
        .load(conn)?)
}

/// Inserts a role and links its composites (ids of roles of the same tenant).
pub fn insert_role(
    conn: &mut DbConnection,
    role: &RoleRow,
    composite_ids: &[String],
) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        diesel::insert_into(realm_roles::table)
            .values(role)
            .execute(conn)?;
        for child in composite_ids {
            diesel::insert_into(realm_role_composites::table)
                .values((
                    realm_role_composites::parent_id.eq(&role.id),
                    realm_role_composites::child_id.eq(child),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Sets a role's name, description and attributes; a name taken by another role of the
/// tenant is a unique violation.
pub fn update_role(conn: &mut DbConnection, role: &RoleRow) -> Result<bool, DbError> {
    let n = diesel::update(realm_roles::table.filter(realm_roles::id.eq(&role.id)))
        .set((
            realm_roles::name.eq(&role.name),
            realm_roles::description.eq(&role.description),
            realm_roles::attributes.eq(&role.attributes),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

/// Adds `child_ids` to a composite role (those already there are skipped).
pub fn add_composites(
    conn: &mut DbConnection,
    parent_id: &str,
    child_ids: &[String],
) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        for child in child_ids {
            let present = realm_role_composites::table
                .filter(realm_role_composites::parent_id.eq(parent_id))
                .filter(realm_role_composites::child_id.eq(child))
                .count()
                .get_result::<i64>(conn)?;
            if present == 0 {
                diesel::insert_into(realm_role_composites::table)
                    .values((
                        realm_role_composites::parent_id.eq(parent_id),
                        realm_role_composites::child_id.eq(child),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// Removes `child_ids` from a composite role.
pub fn remove_composites(
    conn: &mut DbConnection,
    parent_id: &str,
    child_ids: &[String],
) -> Result<(), DbError> {
    diesel::delete(
        realm_role_composites::table
            .filter(realm_role_composites::parent_id.eq(parent_id))
            .filter(realm_role_composites::child_id.eq_any(child_ids)),
    )
    .execute(conn)?;
    Ok(())
}

/// Deletes a role and every composite link to or from it; false if it did not exist.
pub fn delete_role(conn: &mut DbConnection, role_id: &str) -> Result<bool, DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        diesel::delete(
            realm_role_composites::table.filter(
                realm_role_composites::parent_id
                    .eq(role_id)
                    .or(realm_role_composites::child_id.eq(role_id)),
            ),
        )
        .execute(conn)?;
        let n =
            diesel::delete(realm_roles::table.filter(realm_roles::id.eq(role_id))).execute(conn)?;
        Ok(n > 0)
    })
}

// ---- KOBIL tenant creation ----

pub fn find_creation(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> Result<Option<CreationRow>, DbError> {
    Ok(tenant_creations::table
        .filter(tenant_creations::tenant_id.eq(tenant_id))
        .first::<CreationRow>(conn)
        .optional()?)
}

/// Inserts or replaces the creation record of a tenant.
pub fn save_creation(conn: &mut DbConnection, row: &CreationRow) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        let n = diesel::update(
            tenant_creations::table.filter(tenant_creations::tenant_id.eq(&row.tenant_id)),
        )
        .set(row)
        .execute(conn)?;
        if n == 0 {
            diesel::insert_into(tenant_creations::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Every creation record (KOBIL-created tenants), keyed by tenant id.
pub fn creations(conn: &mut DbConnection) -> Result<HashMap<String, CreationRow>, DbError> {
    Ok(tenant_creations::table
        .load::<CreationRow>(conn)?
        .into_iter()
        .map(|c| (c.tenant_id.clone(), c))
        .collect())
}

/// Sets a tenant's creation status.
pub fn set_creation_status(
    conn: &mut DbConnection,
    tenant_id: &str,
    status: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(tenants::table.filter(tenants::id.eq(tenant_id)))
        .set((
            tenants::creation_status.eq(status),
            tenants::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
