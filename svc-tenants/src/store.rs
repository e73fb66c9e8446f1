//! Every query svc-tenants runs. Functions take a connection and return typed rows.

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError};
use serde_json::{Map, Value};

use crate::schema::{tenant_attributes, tenants};

/// Where a tenant is in its creation (KOBIL's realmCreationStatus).
pub const STATUS_ACTIVE: &str = "ACTIVE";

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
    pub attributes: Map<String, Value>,
}

/// Inserts a tenant and its attributes in one transaction; a duplicate name is a unique
/// violation the caller maps to 409.
pub fn insert(conn: &mut DbConnection, tenant: &Tenant) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
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
        Ok(())
    })?;
    Ok(())
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
    let pairs: Vec<(String, String)> = tenant_attributes::table
        .filter(tenant_attributes::tenant_id.eq(&row.id))
        .select((tenant_attributes::name, tenant_attributes::value))
        .load(conn)?;
    let attributes = pairs
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v)))
        .collect();
    Ok(Some(Tenant { row, attributes }))
}

/// Every tenant's name, in name order.
pub fn names(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    Ok(tenants::table
        .select(tenants::name)
        .order(tenants::name.asc())
        .load(conn)?)
}
