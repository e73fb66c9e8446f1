//! Every query svc-riskbits runs. Functions take a connection and return typed rows. A
//! riskbit and its rows in the verification index are always written in one transaction.

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError};

use crate::riskbit::{Platform, Riskbit};
use crate::schema::{riskbit_risk_names, riskbits};

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = riskbits)]
pub struct RiskbitRow {
    pub id: String,
    pub tenant: String,
    pub rating_level: String,
    pub score_low: i32,
    pub score_high: i32,
    pub risk: String,
    pub risk_android: Option<String>,
    pub risk_ios: Option<String>,
    pub operation: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A platform's names as stored on the row: comma-joined, NULL when there are none.
fn joined(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| names.join(","))
}

impl RiskbitRow {
    pub fn new(id: String, tenant: &str, riskbit: &Riskbit, now: i64) -> RiskbitRow {
        RiskbitRow {
            id,
            tenant: tenant.to_owned(),
            rating_level: riskbit.rating_level.clone(),
            score_low: riskbit.score.low,
            score_high: riskbit.score.high,
            risk: riskbit.risk.clone(),
            risk_android: joined(&riskbit.risk_android),
            risk_ios: joined(&riskbit.risk_ios),
            operation: riskbit.operation.clone(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The row's entries in the verification index. The stored lists were checked and joined
    /// with commas, so splitting them gives back exactly the checked names.
    fn risk_names(&self) -> Vec<(Platform, &str)> {
        [
            (Platform::Android, &self.risk_android),
            (Platform::Ios, &self.risk_ios),
        ]
        .into_iter()
        .flat_map(|(platform, text)| {
            text.as_deref()
                .into_iter()
                .flat_map(|t| t.split(','))
                .map(move |name| (platform, name))
        })
        .collect()
    }
}

fn insert_risk_names(conn: &mut DbConnection, row: &RiskbitRow) -> QueryResult<()> {
    for (platform, name) in row.risk_names() {
        diesel::insert_into(riskbit_risk_names::table)
            .values((
                riskbit_risk_names::riskbit_id.eq(&row.id),
                riskbit_risk_names::tenant.eq(&row.tenant),
                riskbit_risk_names::platform.eq(platform.as_str()),
                riskbit_risk_names::risk_name.eq(name),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Inserts a riskbit and its index rows; a rating level the tenant already has is a unique
/// violation.
pub fn insert(conn: &mut DbConnection, row: &RiskbitRow) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(riskbits::table)
            .values(row)
            .execute(conn)?;
        insert_risk_names(conn, row)
    })?;
    Ok(())
}

/// Inserts each row in its own savepoint inside one transaction: a row whose rating level is
/// taken (even by a concurrent writer) is refused alone, the others are kept. The answer has
/// one entry per row: added, or refused as a duplicate.
pub fn insert_each(conn: &mut DbConnection, rows: &[RiskbitRow]) -> Result<Vec<bool>, DbError> {
    let added = conn.transaction::<_, DbError, _>(|conn| {
        let mut added = Vec::with_capacity(rows.len());
        for row in rows {
            match insert(conn, row) {
                Ok(()) => added.push(true),
                Err(e) if e.is_unique_violation() => added.push(false),
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    })?;
    Ok(added)
}

/// One riskbit of a tenant.
pub fn find(
    conn: &mut DbConnection,
    tenant: &str,
    id: &str,
) -> Result<Option<RiskbitRow>, DbError> {
    Ok(riskbits::table
        .filter(riskbits::tenant.eq(tenant))
        .filter(riskbits::id.eq(id))
        .first(conn)
        .optional()?)
}

/// Every riskbit of a tenant, by rating level.
pub fn list(conn: &mut DbConnection, tenant: &str) -> Result<Vec<RiskbitRow>, DbError> {
    Ok(riskbits::table
        .filter(riskbits::tenant.eq(tenant))
        .order((riskbits::rating_level.asc(), riskbits::id.asc()))
        .load(conn)?)
}

/// Replaces a riskbit's fields and index rows (`created_at` stays). False when the tenant has
/// no such riskbit; a rating level taken by another riskbit is a unique violation.
pub fn replace(conn: &mut DbConnection, row: &RiskbitRow) -> Result<bool, DbError> {
    let found = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let target = riskbits::table
            .filter(riskbits::tenant.eq(&row.tenant))
            .filter(riskbits::id.eq(&row.id));
        let updated = diesel::update(target)
            .set((
                riskbits::rating_level.eq(&row.rating_level),
                riskbits::score_low.eq(row.score_low),
                riskbits::score_high.eq(row.score_high),
                riskbits::risk.eq(&row.risk),
                riskbits::risk_android.eq(&row.risk_android),
                riskbits::risk_ios.eq(&row.risk_ios),
                riskbits::operation.eq(&row.operation),
                riskbits::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
        if updated == 0 {
            return Ok(false);
        }
        diesel::delete(
            riskbit_risk_names::table.filter(riskbit_risk_names::riskbit_id.eq(&row.id)),
        )
        .execute(conn)?;
        insert_risk_names(conn, row)?;
        Ok(true)
    })?;
    Ok(found)
}

/// Deletes one riskbit of a tenant (its index rows go with it); false when there was none.
pub fn delete(conn: &mut DbConnection, tenant: &str, id: &str) -> Result<bool, DbError> {
    let deleted = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        // Filtered by tenant too: an id of another tenant must touch nothing of theirs.
        diesel::delete(
            riskbit_risk_names::table
                .filter(riskbit_risk_names::tenant.eq(tenant))
                .filter(riskbit_risk_names::riskbit_id.eq(id)),
        )
        .execute(conn)?;
        diesel::delete(
            riskbits::table
                .filter(riskbits::tenant.eq(tenant))
                .filter(riskbits::id.eq(id)),
        )
        .execute(conn)
    })?;
    Ok(deleted > 0)
}

/// Deletes every riskbit of a tenant; the number deleted.
pub fn delete_all(conn: &mut DbConnection, tenant: &str) -> Result<usize, DbError> {
    // The index rows go explicitly rather than by cascade, so the answer does not depend on a
    // backend's foreign-key setting.
    let deleted = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::delete(riskbit_risk_names::table.filter(riskbit_risk_names::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(riskbits::table.filter(riskbits::tenant.eq(tenant))).execute(conn)
    })?;
    Ok(deleted)
}

/// The tenant's riskbits whose `platform` list names `risk_name`, or whose score range holds
/// `score`, by rating level. Both lookups use an index: (tenant, platform, risk_name) and
/// (tenant, score_low, score_high).
pub fn matching(
    conn: &mut DbConnection,
    tenant: &str,
    platform: Platform,
    risk_name: Option<&str>,
    score: Option<i32>,
) -> Result<Vec<RiskbitRow>, DbError> {
    let mut rows: Vec<RiskbitRow> = Vec::new();
    if let Some(name) = risk_name {
        let named = riskbit_risk_names::table
            .filter(riskbit_risk_names::tenant.eq(tenant))
            .filter(riskbit_risk_names::platform.eq(platform.as_str()))
            .filter(riskbit_risk_names::risk_name.eq(name))
            .select(riskbit_risk_names::riskbit_id);
        rows = riskbits::table
            .filter(riskbits::tenant.eq(tenant))
            .filter(riskbits::id.eq_any(named))
            .load(conn)?;
    }
    if let Some(score) = score {
        let in_range: Vec<RiskbitRow> = riskbits::table
            .filter(riskbits::tenant.eq(tenant))
            .filter(riskbits::score_low.le(score))
            .filter(riskbits::score_high.ge(score))
            .load(conn)?;
        for row in in_range {
            if !rows.iter().any(|r| r.id == row.id) {
                rows.push(row);
            }
        }
    }
    rows.sort_by(|a, b| (&a.rating_level, &a.id).cmp(&(&b.rating_level, &b.id)));
    Ok(rows)
}

/// How many index rows a tenant has (for tests of index upkeep).
pub fn risk_name_count(conn: &mut DbConnection, tenant: &str) -> Result<i64, DbError> {
    Ok(riskbit_risk_names::table
        .filter(riskbit_risk_names::tenant.eq(tenant))
        .count()
        .get_result(conn)?)
}
