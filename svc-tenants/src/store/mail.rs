//! Queries of the mail configuration and the outbox.

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError};

use crate::schema::{mail_configs, mail_outbox};

/// A mail waiting for (another) attempt.
pub const PENDING: &str = "PENDING";
/// Delivered; its parameters are dropped.
pub const SENT: &str = "SENT";
/// Given up after the last attempt; kept for inspection.
pub const FAILED: &str = "FAILED";

#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = mail_configs, treat_none_as_null = true)]
pub struct MailConfigRow {
    pub tenant_id: String,
    pub host: String,
    pub port: i32,
    pub from_address: String,
    pub from_display_name: Option<String>,
    pub reply_to: Option<String>,
    pub reply_to_display_name: Option<String>,
    pub envelope_from: Option<String>,
    pub ssl: bool,
    pub starttls: bool,
    pub auth: bool,
    pub username: Option<String>,
    /// Sealed with `smtp-password:<tenant name>`; never leaves the service.
    pub password_sealed: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = mail_outbox)]
pub struct OutboxRow {
    pub id: String,
    pub tenant_id: String,
    pub template: String,
    pub recipient: String,
    /// The template's parameters as sealed JSON (`mail-params:<id>`); `None` once sent.
    pub params_sealed: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_at: Option<i64>,
    pub claim_token: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

pub fn find_config(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> Result<Option<MailConfigRow>, DbError> {
    Ok(mail_configs::table
        .filter(mail_configs::tenant_id.eq(tenant_id))
        .first::<MailConfigRow>(conn)
        .optional()?)
}

/// Inserts or replaces the tenant's configuration.
pub fn save_config(conn: &mut DbConnection, row: &MailConfigRow) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        let n =
            diesel::update(mail_configs::table.filter(mail_configs::tenant_id.eq(&row.tenant_id)))
                .set(row)
                .execute(conn)?;
        if n == 0 {
            diesel::insert_into(mail_configs::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    })
}

pub fn enqueue(conn: &mut DbConnection, row: &OutboxRow) -> Result<(), DbError> {
    diesel::insert_into(mail_outbox::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_mail(conn: &mut DbConnection, id: &str) -> Result<Option<OutboxRow>, DbError> {
    Ok(mail_outbox::table
        .filter(mail_outbox::id.eq(id))
        .first::<OutboxRow>(conn)
        .optional()?)
}

/// Every mail of a tenant, oldest first.
pub fn tenant_mails(conn: &mut DbConnection, tenant_id: &str) -> Result<Vec<OutboxRow>, DbError> {
    Ok(mail_outbox::table
        .filter(mail_outbox::tenant_id.eq(tenant_id))
        .order((mail_outbox::created_at.asc(), mail_outbox::id.asc()))
        .load(conn)?)
}

/// Ids of pending mails due at `now` that nobody holds (or whose holder's claim is older than
/// `stale_before`: that replica died mid-send), the longest waiting first.
pub fn due(
    conn: &mut DbConnection,
    now: i64,
    stale_before: i64,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(mail_outbox::table
        .filter(mail_outbox::status.eq(PENDING))
        .filter(mail_outbox::next_attempt_at.le(now))
        .filter(
            mail_outbox::claimed_at
                .is_null()
                .or(mail_outbox::claimed_at.lt(stale_before)),
        )
        .order(mail_outbox::next_attempt_at.asc())
        .select(mail_outbox::id)
        .limit(limit)
        .load(conn)?)
}

/// Claims a due mail for this sender and counts the attempt. Only one of several replicas
/// racing for the row updates it (the row count tells which), so a mail is sent once. The
/// attempt counts before sending, so a mail that kills its sender still runs out of attempts.
pub fn claim(
    conn: &mut DbConnection,
    id: &str,
    token: &str,
    now: i64,
    stale_before: i64,
) -> Result<Option<OutboxRow>, DbError> {
    let n = diesel::update(
        mail_outbox::table
            .filter(mail_outbox::id.eq(id))
            .filter(mail_outbox::status.eq(PENDING))
            .filter(mail_outbox::next_attempt_at.le(now))
            .filter(
                mail_outbox::claimed_at
                    .is_null()
                    .or(mail_outbox::claimed_at.lt(stale_before)),
            ),
    )
    .set((
        mail_outbox::claimed_at.eq(now),
        mail_outbox::claim_token.eq(token),
        mail_outbox::attempts.eq(mail_outbox::attempts + 1),
    ))
    .execute(conn)?;
    if n != 1 {
        return Ok(None);
    }
    find_mail(conn, id)
}

/// The row if this sender still holds it (a stale claim another replica took over is not).
macro_rules! held {
    ($id:expr, $token:expr) => {
        mail_outbox::table
            .filter(mail_outbox::id.eq($id))
            .filter(mail_outbox::claim_token.eq($token))
    };
}

/// Delivered: the parameters (one-time links) are dropped at once.
pub fn mark_sent(conn: &mut DbConnection, id: &str, token: &str, now: i64) -> Result<(), DbError> {
    diesel::update(held!(id, token))
        .set((
            mail_outbox::status.eq(SENT),
            mail_outbox::sent_at.eq(now),
            mail_outbox::params_sealed.eq(None::<String>),
            mail_outbox::claimed_at.eq(None::<i64>),
            mail_outbox::claim_token.eq(None::<String>),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Failed this time: released for another attempt at `next_attempt_at`.
pub fn mark_retry(
    conn: &mut DbConnection,
    id: &str,
    token: &str,
    next_attempt_at: i64,
    error: &str,
) -> Result<(), DbError> {
    diesel::update(held!(id, token))
        .set((
            mail_outbox::next_attempt_at.eq(next_attempt_at),
            mail_outbox::last_error.eq(error),
            mail_outbox::claimed_at.eq(None::<i64>),
            mail_outbox::claim_token.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Given up: kept with its last error; the parameters are dropped (they expire anyway).
pub fn mark_failed(
    conn: &mut DbConnection,
    id: &str,
    token: &str,
    error: &str,
) -> Result<(), DbError> {
    diesel::update(held!(id, token))
        .set((
            mail_outbox::status.eq(FAILED),
            mail_outbox::last_error.eq(error),
            mail_outbox::params_sealed.eq(None::<String>),
            mail_outbox::claimed_at.eq(None::<i64>),
            mail_outbox::claim_token.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// When the next unclaimed pending mail falls due, if any.
pub fn next_due(conn: &mut DbConnection) -> Result<Option<i64>, DbError> {
    Ok(mail_outbox::table
        .filter(mail_outbox::status.eq(PENDING))
        .filter(mail_outbox::claimed_at.is_null())
        .select(diesel::dsl::min(mail_outbox::next_attempt_at))
        .first::<Option<i64>>(conn)?)
}

/// Forgets mails sent before `before`.
pub fn purge_sent(conn: &mut DbConnection, before: i64) -> Result<usize, DbError> {
    Ok(diesel::delete(
        mail_outbox::table
            .filter(mail_outbox::status.eq(SENT))
            .filter(mail_outbox::sent_at.lt(before)),
    )
    .execute(conn)?)
}

/// Removes the tenant's configuration and mails (part of the tenant's deletion).
pub fn delete_tenant(conn: &mut DbConnection, tenant_id: &str) -> Result<(), DbError> {
    diesel::delete(mail_outbox::table.filter(mail_outbox::tenant_id.eq(tenant_id)))
        .execute(conn)?;
    diesel::delete(mail_configs::table.filter(mail_configs::tenant_id.eq(tenant_id)))
        .execute(conn)?;
    Ok(())
}
