//! KOBIL's postal addresses of a user. At most one is the default: making one the default
//! clears the flag on the others in the same transaction.

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError};

use crate::schema::user_addresses;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = user_addresses)]
#[diesel(treat_none_as_null = true)]
pub struct AddressRow {
    pub id: String,
    pub tenant: String,
    pub user_id: String,
    /// The address fields as a JSON object (text).
    pub fields: String,
    pub default_address: bool,
    pub created_timestamp: i64,
}

/// A user's addresses, oldest first.
pub fn of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<AddressRow>, DbError> {
    Ok(user_addresses::table
        .filter(user_addresses::user_id.eq(user_id))
        .order((
            user_addresses::created_timestamp.asc(),
            user_addresses::id.asc(),
        ))
        .load(conn)?)
}

pub fn count_of_user(conn: &mut DbConnection, user_id: &str) -> Result<i64, DbError> {
    Ok(user_addresses::table
        .filter(user_addresses::user_id.eq(user_id))
        .count()
        .get_result(conn)?)
}

pub fn find(
    conn: &mut DbConnection,
    user_id: &str,
    id: &str,
) -> Result<Option<AddressRow>, DbError> {
    Ok(user_addresses::table
        .filter(user_addresses::user_id.eq(user_id))
        .filter(user_addresses::id.eq(id))
        .first(conn)
        .optional()?)
}

fn clear_other_defaults(
    conn: &mut DbConnection,
    address: &AddressRow,
) -> Result<(), diesel::result::Error> {
    if address.default_address {
        diesel::update(
            user_addresses::table
                .filter(user_addresses::user_id.eq(&address.user_id))
                .filter(user_addresses::id.ne(&address.id)),
        )
        .set(user_addresses::default_address.eq(false))
        .execute(conn)?;
    }
    Ok(())
}

pub fn insert(conn: &mut DbConnection, address: &AddressRow) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        clear_other_defaults(conn, address)?;
        diesel::insert_into(user_addresses::table)
            .values(address)
            .execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

pub fn update(conn: &mut DbConnection, address: &AddressRow) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        clear_other_defaults(conn, address)?;
        diesel::update(user_addresses::table.find(&address.id))
            .set(address)
            .execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

/// Whether the address existed.
pub fn delete(conn: &mut DbConnection, user_id: &str, id: &str) -> Result<bool, DbError> {
    let n = diesel::delete(
        user_addresses::table
            .filter(user_addresses::user_id.eq(user_id))
            .filter(user_addresses::id.eq(id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}
