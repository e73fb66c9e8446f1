//! Every query svc-auth runs. Functions take a connection and return typed rows.

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError};

use crate::schema::signing_keys;

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub tenant: String,
    pub algorithm: String,
    pub private_key_sealed: String,
    pub public_jwk: String,
    pub public_key_der: String,
    pub created_at: i64,
    pub active_from: i64,
    pub retired_at: Option<i64>,
}

pub fn insert_key(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), DbError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The keys of a tenant that JWKS publishes at `now`: not yet retired. Newest first.
pub fn published_keys(
    conn: &mut DbConnection,
    tenant: &str,
    now: i64,
) -> Result<Vec<SigningKeyRow>, DbError> {
    Ok(signing_keys::table
        .filter(signing_keys::tenant.eq(tenant))
        .filter(
            signing_keys::retired_at
                .is_null()
                .or(signing_keys::retired_at.gt(now)),
        )
        .order((signing_keys::active_from.desc(), signing_keys::kid.asc()))
        .load(conn)?)
}

/// Stores a rotated-in key and schedules the retirement of every other live key of the
/// tenant, in one transaction.
pub fn rotate_in(
    conn: &mut DbConnection,
    row: &SigningKeyRow,
    retire_at: i64,
) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::update(
            signing_keys::table
                .filter(signing_keys::tenant.eq(&row.tenant))
                .filter(signing_keys::retired_at.is_null()),
        )
        .set(signing_keys::retired_at.eq(retire_at))
        .execute(conn)?;
        diesel::insert_into(signing_keys::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    })?;
    Ok(())
}
