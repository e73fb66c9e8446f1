//! Sessions: one per login, durable in the database; refresh tokens rotate on every use. A
//! spent refresh token presented again ends the whole session (theft: both holders lose it),
//! except within a short grace after its rotation, where it is a client racing itself (two
//! tabs refreshing at once): that loser is refused without ending the session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use idp_shared::bearer::revoked_session_key;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::State;
use crate::clients::ClientInfo;
use crate::error::Error;
use crate::store::{self, RefreshTokenRow, Rotation, SessionRow};
use crate::tenants::TenantInfo;
use crate::tokens::{self, UserGrant, refresh_hash};
use crate::users::{self, UserView};

/// A spent refresh token presented this soon after its rotation is a race, not a replay.
pub const REUSE_GRACE_MS: i64 = 2_000;

/// The browser sign-in (SSO session) an app's session is started from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoLink {
    pub browser_session_id: String,
    /// Milliseconds: when the user proved who they are (the tokens' `auth_time`).
    pub authenticated_at: i64,
}

/// Starts a session for a user who has just proven who they are (or whose browser sign-in
/// `sso` vouches for them); the token reply.
#[allow(clippy::too_many_arguments)] // each is one fact of the grant; a struct would only rename them
pub async fn start(
    state: &State,
    tenant: &TenantInfo,
    client: &ClientInfo,
    user: &UserView,
    scope: &str,
    nonce: Option<&str>,
    sso: Option<&SsoLink>,
    now: i64,
) -> Result<Value, Error> {
    // A session begins when the user authenticated: that is its auth_time and the start of
    // its maximum lifespan, as Keycloak counts a client session from its user session.
    let started = sso.map_or(now, |link| link.authenticated_at.min(now));
    let session = SessionRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.name.clone(),
        user_id: user.id.clone(),
        client_id: client.client.client_id.clone(),
        scope: scope.to_owned(),
        created_at: started,
        last_refresh_at: now,
        revoked_at: None,
        browser_session_id: sso.map(|link| link.browser_session_id.clone()),
    };
    let grant = UserGrant {
        tenant,
        client,
        user,
        session_id: &session.id,
        session_started: started,
        scope,
        nonce,
    };
    let (reply, refresh) = tokens::user_tokens(state, &grant, now).await?;
    let first = RefreshTokenRow {
        token_hash: refresh.hash,
        session_id: session.id.clone(),
        created_at: now,
        expires_at: refresh.expires_at_ms,
        spent_at: None,
    };
    let (first_hash, stored) = (first.token_hash.clone(), session.clone());
    state
        .ctx
        .db
        .write(move |conn| store::insert_session(conn, &stored, &first))
        .await?;
    state.recent_sessions.keep(first_hash, session);
    Ok(reply)
}

fn invalid(message: &str) -> Error {
    Error::InvalidGrant(message.to_owned())
}

/// The refresh_token grant: checks the token, its session and its user, then rotates. A
/// session this process refreshed or started last needs one trip to the database: the
/// rotation, which checks what can have changed (spent, expired, ended) as it writes.
pub async fn refresh(
    state: &State,
    tenant: &TenantInfo,
    client: &ClientInfo,
    token: &str,
    now: i64,
) -> Result<Value, Error> {
    if token.is_empty() || token.len() > 16 * 1024 {
        return Err(invalid("Invalid refresh token"));
    }
    let hash = refresh_hash(token);
    let session = match state.recent_sessions.take(&hash) {
        Some(session) => session,
        None => read_session(state, tenant, &hash, now).await?,
    };
    if session.tenant != tenant.name {
        return Err(invalid("Invalid refresh token"));
    }
    if session.client_id != client.client.client_id {
        return Err(invalid(
            "Invalid refresh token. Token client and authorized client don't match",
        ));
    }
    if now - session.created_at > tenant.session_max.saturating_mul(1000) {
        end_sessions(state, tenant, Some(&session.id), None, now).await?;
        return Err(invalid("Session not active"));
    }
    let user = match users::by_id(state, &tenant.name, &session.user_id).await? {
        Some(user) if user.enabled => user,
        _ => {
            end_sessions(state, tenant, Some(&session.id), None, now).await?;
            return Err(invalid("Session not active"));
        }
    };
    let grant = UserGrant {
        tenant,
        client,
        user: &user,
        session_id: &session.id,
        session_started: session.created_at,
        scope: &session.scope,
        nonce: None,
    };
    let (reply, next) = tokens::user_tokens(state, &grant, now).await?;
    let next = RefreshTokenRow {
        token_hash: next.hash,
        session_id: session.id.clone(),
        created_at: now,
        expires_at: next.expires_at_ms,
        spent_at: None,
    };
    let next_hash = next.token_hash.clone();
    let browser = session.browser_session_id.clone();
    let rotation = state
        .ctx
        .db
        .write(move |conn| store::rotate_refresh(conn, &hash, &next, browser.as_deref(), now))
        .await?;
    match rotation {
        Rotation::Rotated => {
            state.recent_sessions.keep(next_hash, session);
            Ok(reply)
        }
        Rotation::Unknown => Err(invalid("Invalid refresh token")),
        Rotation::Ended => Err(invalid("Session not active")),
        Rotation::Spent(at) => Err(reused(state, tenant, &session, at, now).await?),
        Rotation::Expired => {
            end_sessions(state, tenant, Some(&session.id), None, now).await?;
            Err(invalid("Session not active"))
        }
    }
}

/// The session of a refresh token this process does not remember, with the token's own
/// checks, so a token that cannot be rotated is refused before anything is signed.
async fn read_session(
    state: &State,
    tenant: &TenantInfo,
    hash: &str,
    now: i64,
) -> Result<SessionRow, Error> {
    let lookup = hash.to_owned();
    let (row, session) = state
        .ctx
        .db
        .run(move |conn| store::find_refresh(conn, &lookup))
        .await?
        .ok_or_else(|| invalid("Invalid refresh token"))?;
    if session.tenant != tenant.name {
        return Err(invalid("Invalid refresh token"));
    }
    if session.revoked_at.is_some() {
        return Err(invalid("Session not active"));
    }
    if let Some(spent) = row.spent_at {
        return Err(reused(state, tenant, &session, spent, now).await?);
    }
    if row.expires_at <= now {
        end_sessions(state, tenant, Some(&session.id), None, now).await?;
        return Err(invalid("Session not active"));
    }
    Ok(session)
}

/// Sessions of the refresh tokens this process issued last, by the token's hash, so their
/// next refresh skips a read. Only a session's fixed facts are taken from here (tenant, user,
/// client, scope, start, browser sign-in); whether it is still live and the token unspent is
/// checked by the rotation itself, so another replica's logout or rotation is never missed.
#[derive(Default)]
pub struct RecentSessions {
    by_token: Mutex<HashMap<String, SessionRow>>,
}

/// Sessions remembered at most (a few MiB); past it the map starts over.
const MAX_RECENT_SESSIONS: usize = 20_000;

impl RecentSessions {
    fn keep(&self, token_hash: String, session: SessionRow) {
        let mut map = self.by_token.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_RECENT_SESSIONS {
            map.clear();
        }
        map.insert(token_hash, session);
    }

    fn take(&self, token_hash: &str) -> Option<SessionRow> {
        let mut map = self.by_token.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(token_hash)
    }
}

/// The answer to a spent refresh token: within the grace, a refusal; after it, the session
/// ends too.
async fn reused(
    state: &State,
    tenant: &TenantInfo,
    session: &SessionRow,
    spent_at: i64,
    now: i64,
) -> Result<Error, Error> {
    if now - spent_at <= REUSE_GRACE_MS {
        return Ok(invalid("Token is no longer valid"));
    }
    tracing::warn!(tenant = %tenant.name, session = %session.id, "spent refresh token replayed; session ended");
    end_sessions(state, tenant, Some(&session.id), None, now).await?;
    Ok(invalid("Token is no longer valid"))
}

/// Ends one session or all of a user's, and tells the gateway (the cache) so their access
/// tokens stop working at once. Returns how many ended.
pub async fn end_sessions(
    state: &State,
    tenant: &TenantInfo,
    session_id: Option<&str>,
    user_id: Option<&str>,
    now: i64,
) -> Result<usize, Error> {
    let (t, s, u) = (
        tenant.name.clone(),
        session_id.map(str::to_owned),
        user_id.map(str::to_owned),
    );
    let ended = state
        .ctx
        .db
        .run(move |conn| store::revoke_sessions(conn, &t, s.as_deref(), u.as_deref(), now))
        .await?;
    mark_revoked(state, tenant, &ended).await?;
    Ok(ended.len())
}

/// Ends a browser sign-in and every session started from it (logout); how many sessions
/// ended.
pub async fn end_browser_session(
    state: &State,
    tenant: &TenantInfo,
    browser_session_id: &str,
    now: i64,
) -> Result<usize, Error> {
    let (t, id) = (tenant.name.clone(), browser_session_id.to_owned());
    let ended = state
        .ctx
        .db
        .run(move |conn| store::end_browser_session(conn, &t, &id, now))
        .await?;
    mark_revoked(state, tenant, &ended).await?;
    Ok(ended.len())
}

/// Tells the gateway (the cache) that these sessions' access tokens stop working now.
async fn mark_revoked(state: &State, tenant: &TenantInfo, ids: &[String]) -> Result<(), Error> {
    // Access tokens live at most their lifespan (plus the verifier's leeway) after issue.
    let ttl = Duration::from_secs(
        (tenant.access_token_lifespan + idp_shared::bearer::LEEWAY_SECS + 60) as u64,
    );
    for id in ids {
        state
            .ctx
            .cache
            .set(&revoked_session_key(id), b"1", ttl)
            .await?;
    }
    Ok(())
}

/// Ends the session a logout names and, when it came from a browser sign-in, that sign-in
/// and every other app's session of it (Keycloak ends the user session); how many ended.
pub async fn end_with_sign_in(
    state: &State,
    tenant: &TenantInfo,
    session: &SessionRow,
    now: i64,
) -> Result<usize, Error> {
    match &session.browser_session_id {
        Some(browser) => end_browser_session(state, tenant, browser, now).await,
        None => end_sessions(state, tenant, Some(&session.id), None, now).await,
    }
}

/// The client a refresh token was issued to, if the token is known.
pub async fn client_of(state: &State, token: &str) -> Result<Option<String>, Error> {
    let hash = refresh_hash(token);
    Ok(state
        .ctx
        .db
        .run(move |conn| store::find_refresh(conn, &hash))
        .await?
        .map(|(_, session)| session.client_id))
}

/// The live session of a refresh token of this tenant (spent tokens included: they still
/// name their session), checked against the presenting client when one is given.
pub async fn session_of(
    state: &State,
    tenant: &TenantInfo,
    token: &str,
    client_id: Option<&str>,
) -> Result<Option<SessionRow>, Error> {
    if token.is_empty() || token.len() > 16 * 1024 {
        return Ok(None);
    }
    let hash = refresh_hash(token);
    let found = state
        .ctx
        .db
        .run(move |conn| store::find_refresh(conn, &hash))
        .await?;
    Ok(found
        .map(|(_, session)| session)
        .filter(|s| s.tenant == tenant.name && s.revoked_at.is_none())
        .filter(|s| client_id.is_none_or(|c| c == s.client_id)))
}

/// Ends the session a refresh token belongs to (logout, revocation); how many ended (0 or 1).
pub async fn logout(
    state: &State,
    tenant: &TenantInfo,
    token: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<usize, Error> {
    match session_of(state, tenant, token, client_id).await? {
        Some(session) => end_sessions(state, tenant, Some(&session.id), None, now).await,
        None => Ok(0),
    }
}
