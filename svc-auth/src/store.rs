//! Every query svc-auth runs. Functions take a connection and return typed rows.

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError};

use crate::schema::{browser_sessions, refresh_tokens, sessions, signing_keys};

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

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub tenant: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub last_refresh_at: i64,
    pub revoked_at: Option<i64>,
    pub browser_session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub token_hash: String,
    pub session_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub spent_at: Option<i64>,
}

/// A new session and its first refresh token, together.
pub fn insert_session(
    conn: &mut DbConnection,
    session: &SessionRow,
    refresh: &RefreshTokenRow,
) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(sessions::table)
            .values(session)
            .execute(conn)?;
        diesel::insert_into(refresh_tokens::table)
            .values(refresh)
            .execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

/// A refresh token and its session.
pub fn find_refresh(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<(RefreshTokenRow, SessionRow)>, DbError> {
    let Some(refresh) = refresh_tokens::table
        .find(token_hash)
        .first::<RefreshTokenRow>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let session = sessions::table
        .find(&refresh.session_id)
        .first::<SessionRow>(conn)
        .optional()?;
    Ok(session.map(|s| (refresh, s)))
}

/// What became of a refresh token presented for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Spent now; its successor is stored.
    Rotated,
    /// No such token in this session.
    Unknown,
    /// Spent before, at this time (a replay, or a client racing itself).
    Spent(i64),
    /// Past its expiry.
    Expired,
    /// Its session has ended (logout, revocation, ...).
    Ended,
}

/// Spends a refresh token and stores its successor, atomically, checking everything that can
/// change under a live session (spent, expired, session ended) in the same transaction: of
/// parallel spenders of one token exactly one rotates. Nothing is written unless it rotates.
pub fn rotate_refresh(
    conn: &mut DbConnection,
    spent_hash: &str,
    next: &RefreshTokenRow,
    browser_session_id: Option<&str>,
    now: i64,
) -> Result<Rotation, DbError> {
    let outcome = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let won = diesel::update(
            refresh_tokens::table
                .find(spent_hash)
                .filter(refresh_tokens::session_id.eq(&next.session_id))
                .filter(refresh_tokens::spent_at.is_null())
                .filter(refresh_tokens::expires_at.gt(now)),
        )
        .set(refresh_tokens::spent_at.eq(now))
        .execute(conn)?
            == 1;
        if !won {
            return why_not_rotated(conn, spent_hash, &next.session_id);
        }
        let live = diesel::update(
            sessions::table
                .find(&next.session_id)
                .filter(sessions::revoked_at.is_null()),
        )
        .set(sessions::last_refresh_at.eq(now))
        .execute(conn)?
            == 1;
        if !live {
            // Undo the spend: an ended session's tokens stay as they were.
            return Err(diesel::result::Error::RollbackTransaction);
        }
        diesel::insert_into(refresh_tokens::table)
            .values(next)
            .execute(conn)?;
        // An app refreshing keeps its browser sign-in from going idle, as in Keycloak.
        if let Some(browser) = browser_session_id {
            diesel::update(browser_sessions::table.find(browser))
                .set(browser_sessions::last_seen_at.eq(now))
                .execute(conn)?;
        }
        Ok(Rotation::Rotated)
    });
    match outcome {
        Err(diesel::result::Error::RollbackTransaction) => Ok(Rotation::Ended),
        other => Ok(other?),
    }
}

/// Why a token of `session_id` could not be spent, in the order the grant reports it.
fn why_not_rotated(
    conn: &mut DbConnection,
    token_hash: &str,
    session_id: &str,
) -> Result<Rotation, diesel::result::Error> {
    let Some(token) = refresh_tokens::table
        .find(token_hash)
        .filter(refresh_tokens::session_id.eq(session_id))
        .first::<RefreshTokenRow>(conn)
        .optional()?
    else {
        return Ok(Rotation::Unknown);
    };
    let revoked = sessions::table
        .find(session_id)
        .select(sessions::revoked_at)
        .first::<Option<i64>>(conn)
        .optional()?;
    Ok(match (revoked, token.spent_at) {
        (None | Some(Some(_)), _) => Rotation::Ended,
        (Some(None), Some(at)) => Rotation::Spent(at),
        (Some(None), None) => Rotation::Expired,
    })
}

/// Ends sessions: one by id, or every live one of a user. Returns the ids it ended.
pub fn revoke_sessions(
    conn: &mut DbConnection,
    tenant: &str,
    session_id: Option<&str>,
    user_id: Option<&str>,
    now: i64,
) -> Result<Vec<String>, DbError> {
    Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let mut query = sessions::table
            .filter(sessions::tenant.eq(tenant))
            .filter(sessions::revoked_at.is_null())
            .select(sessions::id)
            .into_boxed::<idp_shared::db::MultiBackend>();
        if let Some(id) = session_id {
            query = query.filter(sessions::id.eq(id));
        }
        if let Some(user) = user_id {
            query = query.filter(sessions::user_id.eq(user));
        }
        let ids: Vec<String> = query.load(conn)?;
        diesel::update(sessions::table.filter(sessions::id.eq_any(&ids)))
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?;
        if let Some(user) = user_id {
            // Every sign-in of the user ends too, so no browser signs back in without a password.
            diesel::update(
                browser_sessions::table
                    .filter(browser_sessions::tenant.eq(tenant))
                    .filter(browser_sessions::user_id.eq(user))
                    .filter(browser_sessions::ended_at.is_null()),
            )
            .set(browser_sessions::ended_at.eq(now))
            .execute(conn)?;
        }
        Ok(ids)
    })?)
}

/// One session by id.
pub fn find_session(conn: &mut DbConnection, id: &str) -> Result<Option<SessionRow>, DbError> {
    Ok(sessions::table.find(id).first(conn).optional()?)
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = browser_sessions)]
pub struct BrowserSessionRow {
    pub id: String,
    /// SHA-256 (hex) of the cookie value; the value itself is never stored.
    pub cookie_hash: String,
    pub tenant: String,
    pub user_id: String,
    pub created_at: i64,
    /// When the user last proved who they are (`auth_time`); later than `created_at` after a
    /// forced re-authentication.
    pub authenticated_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
}

pub fn insert_browser_session(
    conn: &mut DbConnection,
    row: &BrowserSessionRow,
) -> Result<(), DbError> {
    diesel::insert_into(browser_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_browser_session(
    conn: &mut DbConnection,
    cookie_hash: &str,
) -> Result<Option<BrowserSessionRow>, DbError> {
    Ok(browser_sessions::table
        .filter(browser_sessions::cookie_hash.eq(cookie_hash))
        .first(conn)
        .optional()?)
}

pub fn find_browser_session_by_id(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<BrowserSessionRow>, DbError> {
    Ok(browser_sessions::table.find(id).first(conn).optional()?)
}

/// Marks a browser session used now, and re-authenticated now when `reauthenticated`.
pub fn touch_browser_session(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
    reauthenticated: bool,
) -> Result<(), DbError> {
    let row = browser_sessions::table.find(id);
    if reauthenticated {
        diesel::update(row)
            .set((
                browser_sessions::last_seen_at.eq(now),
                browser_sessions::authenticated_at.eq(now),
            ))
            .execute(conn)?;
    } else {
        diesel::update(row)
            .set(browser_sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(())
}

/// Ends a browser session and every live session started from it; returns the ids of those
/// sessions.
pub fn end_browser_session(
    conn: &mut DbConnection,
    tenant: &str,
    id: &str,
    now: i64,
) -> Result<Vec<String>, DbError> {
    Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::update(
            browser_sessions::table
                .find(id)
                .filter(browser_sessions::tenant.eq(tenant))
                .filter(browser_sessions::ended_at.is_null()),
        )
        .set(browser_sessions::ended_at.eq(now))
        .execute(conn)?;
        let ids: Vec<String> = sessions::table
            .filter(sessions::tenant.eq(tenant))
            .filter(sessions::browser_session_id.eq(id))
            .filter(sessions::revoked_at.is_null())
            .select(sessions::id)
            .load(conn)?;
        diesel::update(sessions::table.filter(sessions::id.eq_any(&ids)))
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?;
        Ok(ids)
    })?)
}

/// Removes a tenant's keys and sessions (tenant deletion).
pub fn delete_tenant(conn: &mut DbConnection, tenant: &str) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let ids = sessions::table
            .filter(sessions::tenant.eq(tenant))
            .select(sessions::id);
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(ids)))
            .execute(conn)?;
        diesel::delete(sessions::table.filter(sessions::tenant.eq(tenant))).execute(conn)?;
        diesel::delete(browser_sessions::table.filter(browser_sessions::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(signing_keys::table.filter(signing_keys::tenant.eq(tenant)))
            .execute(conn)?;
        Ok(())
    })?;
    Ok(())
}
