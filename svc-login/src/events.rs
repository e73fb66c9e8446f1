//! The security event log: login attempts, lockouts and password changes.

use std::time::Duration;

use idp_shared::ServiceKind;
use idp_shared::names::now_millis;
use idp_shared::realms::setting_i64;

use crate::State;
use crate::error::Error;
use crate::login::realm;
use crate::store::{self, SecurityEvent};

pub const SUCCESSFUL_LOGIN: &str = "SUCCESSFUL_LOGIN_ATTEMPT";
pub const FAILED_LOGIN: &str = "FAILED_LOGIN_ATTEMPT";
pub const USER_BLOCK: &str = "USER_BLOCK";
pub const PASSWORD_CREATE: &str = "PASSWORD_CREATE";
pub const PASSWORD_CHANGE: &str = "PASSWORD_CHANGE";
pub const PASSWORD_RESET: &str = "PASSWORD_RESET";
/// FOLIO's event types: what `POST /authn/log/events` accepts.
pub const FOLIO_TYPES: [&str; 6] = [
    PASSWORD_RESET,
    PASSWORD_CREATE,
    PASSWORD_CHANGE,
    SUCCESSFUL_LOGIN,
    FAILED_LOGIN,
    USER_BLOCK,
];

/// Writes one event. A failure to write is logged, not passed on: the login it describes has
/// already been decided.
pub async fn record(state: &State, event: SecurityEvent) {
    let kind = event.event_type.clone();
    if let Err(e) = state
        .ctx
        .db
        .run(move |conn| store::insert_event(conn, &event))
        .await
    {
        tracing::warn!(event = %kind, error = %e, "security event not recorded");
    }
}

/// Keycloak's realm field for how long events are kept, in seconds; absent or 0 keeps them.
pub const RETENTION_FIELD: &str = "eventsExpiration";
/// Events deleted per statement, so a purge never holds long locks.
pub const PURGE_BATCH: i64 = 1000;
/// How often each replica looks for expired events (one replica per round does the work).
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes the tenant's events older than its `eventsExpiration`, batch by batch; how many.
pub async fn purge_expired(state: &State, tenant: &str, now: i64) -> Result<usize, Error> {
    let realm = realm(state, tenant).await?;
    let keep_secs = setting_i64(&realm, RETENTION_FIELD, 0);
    if keep_secs == 0 {
        return Ok(0);
    }
    let before = now - keep_secs * 1000;
    let mut total = 0;
    loop {
        let t = tenant.to_owned();
        let deleted = state
            .ctx
            .db
            .run(move |conn| store::purge_events_batch(conn, &t, before, PURGE_BATCH))
            .await?;
        total += deleted;
        if (deleted as i64) < PURGE_BATCH {
            return Ok(total);
        }
    }
}

/// Every tenant's purge, once per [`PURGE_EVERY`] across all replicas (a cache lock elects the
/// one that runs it).
pub fn spawn_retention_task(state: State) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PURGE_EVERY).await;
            if let Err(e) = purge_round(&state).await {
                tracing::warn!(error = %e, "event retention round failed; next round retries");
            }
        }
    });
}

async fn purge_round(state: &State) -> Result<(), Error> {
    let elected = state
        .ctx
        .cache
        .set_if_absent(
            "events:purge:lock",
            b"1",
            PURGE_EVERY - Duration::from_secs(60),
        )
        .await?;
    if !elected {
        return Ok(());
    }
    let reply = state
        .ctx
        .client
        .request(
            reqwest::Method::GET,
            ServiceKind::Tenants,
            "/internal/tenants",
        )
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-tenants: {e}")))?;
    if !reply.status().is_success() {
        return Err(Error::Upstream(format!(
            "svc-tenants answered {}",
            reply.status()
        )));
    }
    let tenants: Vec<String> = reply
        .json()
        .await
        .map_err(|e| Error::Upstream(format!("svc-tenants: {e}")))?;
    let now = now_millis();
    for tenant in tenants {
        match purge_expired(state, &tenant, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tenant = %tenant, deleted = n, "expired events purged"),
            Err(e) => tracing::warn!(tenant = %tenant, error = %e, "event purge failed"),
        }
    }
    Ok(())
}
