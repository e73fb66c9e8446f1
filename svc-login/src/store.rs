//! Every query svc-login runs. Functions take a connection and return typed rows.

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError, MultiBackend};

use crate::schema::{
    credentials, login_facts, password_history, password_reset_actions, permanent_lockouts,
    security_events,
};

pub const PASSWORD: &str = "password";
pub const OTP: &str = "otp";

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = credentials)]
pub struct CredentialRow {
    pub id: String,
    pub tenant: String,
    pub user_id: String,
    pub credential_type: String,
    /// A bcrypt hash or a sealed TOTP seed: never leaves the service.
    pub secret_data: String,
    pub temporary: bool,
    pub user_label: Option<String>,
    pub created_date: i64,
    /// Keycloak's credentialData (OTP parameters); None for passwords.
    pub credential_data: Option<String>,
    pub login_count: i64,
    pub last_login_at: Option<i64>,
}

/// A FOLIO password reset action; `id_hash` is the SHA-256 (hex) of its id.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = password_reset_actions)]
pub struct ResetActionRow {
    pub id_hash: String,
    pub tenant: String,
    pub user_id: String,
    pub expires_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = security_events)]
pub struct SecurityEvent {
    pub id: String,
    pub tenant: String,
    pub user_id: Option<String>,
    pub event_type: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
}

pub fn credentials_of(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
) -> Result<Vec<CredentialRow>, DbError> {
    Ok(credentials::table
        .filter(credentials::tenant.eq(tenant))
        .filter(credentials::user_id.eq(user_id))
        .order(credentials::created_date.asc())
        .load(conn)?)
}

pub fn credential_of_type(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    kind: &str,
) -> Result<Option<CredentialRow>, DbError> {
    Ok(credentials::table
        .filter(credentials::tenant.eq(tenant))
        .filter(credentials::user_id.eq(user_id))
        .filter(credentials::credential_type.eq(kind))
        .order(credentials::created_date.desc())
        .first(conn)
        .optional()?)
}

/// Every credential of one type (a user may have several OTP devices), oldest first.
pub fn credentials_of_type(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    kind: &str,
) -> Result<Vec<CredentialRow>, DbError> {
    Ok(credentials::table
        .filter(credentials::tenant.eq(tenant))
        .filter(credentials::user_id.eq(user_id))
        .filter(credentials::credential_type.eq(kind))
        .order((credentials::created_date.asc(), credentials::id.asc()))
        .load(conn)?)
}

/// The current password hash and up to `n - 1` earlier ones: what passwordHistory(n) forbids.
pub fn recent_password_hashes(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    n: usize,
) -> Result<Vec<String>, DbError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut hashes: Vec<String> = credential_of_type(conn, tenant, user_id, PASSWORD)?
        .map(|c| c.secret_data)
        .into_iter()
        .collect();
    let earlier: Vec<String> = password_history::table
        .filter(password_history::tenant.eq(tenant))
        .filter(password_history::user_id.eq(user_id))
        .order(password_history::created_date.desc())
        .select(password_history::hash)
        .limit((n - hashes.len()) as i64)
        .load(conn)?;
    hashes.extend(earlier);
    Ok(hashes)
}

/// Replaces the user's password in one transaction: the old hash moves to the history
/// (trimmed to `keep`), the new credential takes its place, the change time is recorded.
pub fn replace_password(
    conn: &mut DbConnection,
    new: &CredentialRow,
    keep: usize,
) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let mine = credentials::tenant
            .eq(&new.tenant)
            .and(credentials::user_id.eq(&new.user_id))
            .and(credentials::credential_type.eq(PASSWORD));
        let old: Vec<CredentialRow> = credentials::table.filter(mine).load(conn)?;
        diesel::delete(credentials::table.filter(mine)).execute(conn)?;
        if keep > 0 {
            for row in &old {
                diesel::insert_into(password_history::table)
                    .values((
                        password_history::id.eq(uuid::Uuid::new_v4().to_string()),
                        password_history::tenant.eq(&row.tenant),
                        password_history::user_id.eq(&row.user_id),
                        password_history::hash.eq(&row.secret_data),
                        password_history::created_date.eq(row.created_date),
                    ))
                    .execute(conn)?;
            }
        }
        let history_of_user = password_history::tenant
            .eq(&new.tenant)
            .and(password_history::user_id.eq(&new.user_id));
        let kept: Vec<String> = password_history::table
            .filter(history_of_user)
            .order(password_history::created_date.desc())
            .select(password_history::id)
            .limit(keep as i64)
            .load(conn)?;
        diesel::delete(
            password_history::table
                .filter(history_of_user)
                .filter(password_history::id.ne_all(kept)),
        )
        .execute(conn)?;
        diesel::insert_into(credentials::table)
            .values(new)
            .execute(conn)?;
        touch(
            conn,
            &new.tenant,
            &new.user_id,
            None,
            Some(new.created_date),
        )?;
        Ok(())
    })?;
    Ok(())
}

pub fn insert_credential(conn: &mut DbConnection, row: &CredentialRow) -> Result<(), DbError> {
    diesel::insert_into(credentials::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// True when the credential existed.
pub fn delete_credential(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    id: &str,
) -> Result<bool, DbError> {
    let n = diesel::delete(
        credentials::table
            .filter(credentials::tenant.eq(tenant))
            .filter(credentials::user_id.eq(user_id))
            .filter(credentials::id.eq(id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Removes the user's password (FOLIO's credentials delete); true when there was one.
pub fn delete_password(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
) -> Result<bool, DbError> {
    let n = diesel::delete(
        credentials::table
            .filter(credentials::tenant.eq(tenant))
            .filter(credentials::user_id.eq(user_id))
            .filter(credentials::credential_type.eq(PASSWORD)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Records a login and/or a password change (an upsert that works on both backends).
fn touch(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    login: Option<i64>,
    password_change: Option<i64>,
) -> Result<(), diesel::result::Error> {
    let row = login_facts::table
        .filter(login_facts::tenant.eq(tenant))
        .filter(login_facts::user_id.eq(user_id));
    let updated = match (login, password_change) {
        (Some(l), Some(p)) => diesel::update(row)
            .set((
                login_facts::last_login_at.eq(l),
                login_facts::last_password_change_at.eq(p),
            ))
            .execute(conn)?,
        (Some(l), None) => diesel::update(row)
            .set(login_facts::last_login_at.eq(l))
            .execute(conn)?,
        (None, Some(p)) => diesel::update(row)
            .set(login_facts::last_password_change_at.eq(p))
            .execute(conn)?,
        (None, None) => return Ok(()),
    };
    if updated == 0 {
        diesel::insert_into(login_facts::table)
            .values((
                login_facts::tenant.eq(tenant),
                login_facts::user_id.eq(user_id),
                login_facts::last_login_at.eq(login),
                login_facts::last_password_change_at.eq(password_change),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Records a successful login and counts it on the credentials that proved it.
pub fn record_login(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    at: i64,
    credential_ids: &[String],
) -> Result<(), DbError> {
    if !credential_ids.is_empty() {
        diesel::update(
            credentials::table
                .filter(credentials::tenant.eq(tenant))
                .filter(credentials::id.eq_any(credential_ids)),
        )
        .set((
            credentials::login_count.eq(credentials::login_count + 1),
            credentials::last_login_at.eq(at),
        ))
        .execute(conn)?;
    }
    // Two first logins racing: the loser's insert violates the key; its update then applies.
    match touch(conn, tenant, user_id, Some(at), None) {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(touch(conn, tenant, user_id, Some(at), None)?),
        other => Ok(other?),
    }
}

/// (user id, last login, last password change).
pub type LoginFacts = (String, Option<i64>, Option<i64>);

/// The login facts of the given users that have any.
pub fn login_facts_of(
    conn: &mut DbConnection,
    tenant: &str,
    user_ids: &[String],
) -> Result<Vec<LoginFacts>, DbError> {
    Ok(login_facts::table
        .filter(login_facts::tenant.eq(tenant))
        .filter(login_facts::user_id.eq_any(user_ids))
        .select((
            login_facts::user_id,
            login_facts::last_login_at,
            login_facts::last_password_change_at,
        ))
        .load(conn)?)
}

/// Which of the given users have an OTP credential.
pub fn users_with_otp(
    conn: &mut DbConnection,
    tenant: &str,
    user_ids: &[String],
) -> Result<Vec<String>, DbError> {
    Ok(credentials::table
        .filter(credentials::tenant.eq(tenant))
        .filter(credentials::user_id.eq_any(user_ids))
        .filter(credentials::credential_type.eq(OTP))
        .select(credentials::user_id)
        .distinct()
        .load(conn)?)
}

pub fn is_permanently_locked(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
) -> Result<bool, DbError> {
    let n: i64 = permanent_lockouts::table
        .filter(permanent_lockouts::tenant.eq(tenant))
        .filter(permanent_lockouts::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// True when this call locked the account (not already locked).
pub fn lock_permanently(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    at: i64,
) -> Result<bool, DbError> {
    match diesel::insert_into(permanent_lockouts::table)
        .values((
            permanent_lockouts::tenant.eq(tenant),
            permanent_lockouts::user_id.eq(user_id),
            permanent_lockouts::locked_at.eq(at),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Lifts permanent lockouts: one user's, or the whole tenant's with `None`.
pub fn unlock(conn: &mut DbConnection, tenant: &str, user_id: Option<&str>) -> Result<(), DbError> {
    let of_tenant = permanent_lockouts::table.filter(permanent_lockouts::tenant.eq(tenant));
    match user_id {
        Some(id) => {
            diesel::delete(of_tenant.filter(permanent_lockouts::user_id.eq(id))).execute(conn)?
        }
        None => diesel::delete(of_tenant).execute(conn)?,
    };
    Ok(())
}

pub fn insert_event(conn: &mut DbConnection, event: &SecurityEvent) -> Result<(), DbError> {
    diesel::insert_into(security_events::table)
        .values(event)
        .execute(conn)?;
    Ok(())
}

/// Removes everything svc-login holds about a user.
pub fn delete_user(conn: &mut DbConnection, tenant: &str, user_id: &str) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::delete(
            credentials::table
                .filter(credentials::tenant.eq(tenant))
                .filter(credentials::user_id.eq(user_id)),
        )
        .execute(conn)?;
        diesel::delete(
            password_history::table
                .filter(password_history::tenant.eq(tenant))
                .filter(password_history::user_id.eq(user_id)),
        )
        .execute(conn)?;
        diesel::delete(
            login_facts::table
                .filter(login_facts::tenant.eq(tenant))
                .filter(login_facts::user_id.eq(user_id)),
        )
        .execute(conn)?;
        diesel::delete(
            permanent_lockouts::table
                .filter(permanent_lockouts::tenant.eq(tenant))
                .filter(permanent_lockouts::user_id.eq(user_id)),
        )
        .execute(conn)?;
        diesel::delete(
            password_reset_actions::table
                .filter(password_reset_actions::tenant.eq(tenant))
                .filter(password_reset_actions::user_id.eq(user_id)),
        )
        .execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

/// Removes everything svc-login holds about a tenant.
pub fn delete_tenant(conn: &mut DbConnection, tenant: &str) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::delete(credentials::table.filter(credentials::tenant.eq(tenant))).execute(conn)?;
        diesel::delete(password_history::table.filter(password_history::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(login_facts::table.filter(login_facts::tenant.eq(tenant))).execute(conn)?;
        diesel::delete(permanent_lockouts::table.filter(permanent_lockouts::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(security_events::table.filter(security_events::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(
            password_reset_actions::table.filter(password_reset_actions::tenant.eq(tenant)),
        )
        .execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

// --- FOLIO password reset actions ------------------------------------------------------------

/// What storing a reset action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetActionStored {
    Stored,
    /// An action with this id exists already (nothing changed).
    IdTaken,
}

/// Stores a reset action, replacing the user's earlier ones (one live link per user, as FOLIO).
pub fn insert_reset_action(
    conn: &mut DbConnection,
    row: &ResetActionRow,
) -> Result<ResetActionStored, DbError> {
    let stored = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let taken: i64 = password_reset_actions::table
            .filter(password_reset_actions::id_hash.eq(&row.id_hash))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Ok(ResetActionStored::IdTaken);
        }
        diesel::delete(
            password_reset_actions::table
                .filter(password_reset_actions::tenant.eq(&row.tenant))
                .filter(password_reset_actions::user_id.eq(&row.user_id)),
        )
        .execute(conn)?;
        diesel::insert_into(password_reset_actions::table)
            .values(row)
            .execute(conn)?;
        Ok(ResetActionStored::Stored)
    });
    match stored {
        // A concurrent insert of the same id won the race.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(ResetActionStored::IdTaken),
        other => Ok(other?),
    }
}

/// The live (unexpired) action of this tenant with this id hash.
pub fn live_reset_action(
    conn: &mut DbConnection,
    tenant: &str,
    id_hash: &str,
    now: i64,
) -> Result<Option<ResetActionRow>, DbError> {
    Ok(password_reset_actions::table
        .filter(password_reset_actions::id_hash.eq(id_hash))
        .filter(password_reset_actions::tenant.eq(tenant))
        .filter(password_reset_actions::expires_at.gt(now))
        .first(conn)
        .optional()?)
}

/// Spends a live action: exactly one caller gets the row, every other gets None.
pub fn claim_reset_action(
    conn: &mut DbConnection,
    tenant: &str,
    id_hash: &str,
    now: i64,
) -> Result<Option<ResetActionRow>, DbError> {
    Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let Some(row) = password_reset_actions::table
            .filter(password_reset_actions::id_hash.eq(id_hash))
            .filter(password_reset_actions::tenant.eq(tenant))
            .filter(password_reset_actions::expires_at.gt(now))
            .first::<ResetActionRow>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        // The delete decides who spent it: a concurrent claim deletes nothing.
        let deleted = diesel::delete(
            password_reset_actions::table.filter(password_reset_actions::id_hash.eq(id_hash)),
        )
        .execute(conn)?;
        Ok((deleted == 1).then_some(row))
    })?)
}

/// Puts back an action whose password change failed after it was claimed.
pub fn restore_reset_action(conn: &mut DbConnection, row: &ResetActionRow) -> Result<(), DbError> {
    diesel::insert_into(password_reset_actions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Whether the user has a live reset action (NEVIS state `reset-code`).
pub fn has_live_reset_action(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n: i64 = password_reset_actions::table
        .filter(password_reset_actions::tenant.eq(tenant))
        .filter(password_reset_actions::user_id.eq(user_id))
        .filter(password_reset_actions::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

// --- the FOLIO event log ---------------------------------------------------------------------

/// A page of a tenant's events, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub tenant: String,
    pub event_type: Option<String>,
    pub user_id: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

type BoxedEvents<'a> = security_events::BoxedQuery<'a, MultiBackend>;

fn events_matching(q: &EventQuery) -> BoxedEvents<'_> {
    let mut query = security_events::table
        .filter(security_events::tenant.eq(&q.tenant))
        .into_boxed::<MultiBackend>();
    if let Some(kind) = &q.event_type {
        query = query.filter(security_events::event_type.eq(kind));
    }
    if let Some(user) = &q.user_id {
        query = query.filter(security_events::user_id.eq(user));
    }
    query
}

/// The page and the number of all matches.
pub fn list_events(
    conn: &mut DbConnection,
    q: &EventQuery,
) -> Result<(Vec<SecurityEvent>, i64), DbError> {
    let total: i64 = events_matching(q).count().get_result(conn)?;
    let page = events_matching(q)
        .order((
            security_events::created_at.desc(),
            security_events::id.desc(),
        ))
        .offset(q.offset)
        .limit(q.limit)
        .load(conn)?;
    Ok((page, total))
}

/// Stores an event posted through the API; false when its id is taken.
pub fn insert_event_if_new(
    conn: &mut DbConnection,
    event: &SecurityEvent,
) -> Result<bool, DbError> {
    match diesel::insert_into(security_events::table)
        .values(event)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// True when the tenant had this event.
pub fn delete_event(conn: &mut DbConnection, tenant: &str, id: &str) -> Result<bool, DbError> {
    let n = diesel::delete(
        security_events::table
            .filter(security_events::tenant.eq(tenant))
            .filter(security_events::id.eq(id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Deletes up to `batch` of the tenant's events older than `before`; how many went. Callers
/// repeat until fewer than `batch` go, so no single statement holds locks for long.
pub fn purge_events_batch(
    conn: &mut DbConnection,
    tenant: &str,
    before: i64,
    batch: i64,
) -> Result<usize, DbError> {
    let ids: Vec<String> = security_events::table
        .filter(security_events::tenant.eq(tenant))
        .filter(security_events::created_at.lt(before))
        .select(security_events::id)
        .limit(batch)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::delete(security_events::table.filter(security_events::id.eq_any(ids)))
            .execute(conn)?,
    )
}
