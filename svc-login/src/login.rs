//! The one path every password check takes (password grant, FOLIO login, self-service):
//! lockout first, one bcrypt hash always, the one-time code of users who have an OTP
//! credential, counters and events after.

use idp_shared::names::now_millis;
use idp_shared::realms::lookup_realm;
use serde_json::Value;

use crate::error::Error;
use crate::lockout::{LockoutPolicy, Lockouts};
use crate::otp::{OtpParams, OtpPolicy, used_step_key, used_step_ttl};
use crate::policy::PasswordPolicy;
use crate::store::{self, CredentialRow, OTP, PASSWORD, SecurityEvent};
use crate::{State, events};

/// Why the password is checked: a login is recorded as one; a re-authentication (changing
/// one's own password) only proves the password.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Purpose {
    #[default]
    Login,
    Reauthenticate,
}

/// Who is trying, from where.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    pub tenant: String,
    /// None when no such user exists: the check still costs one hash.
    pub user_id: Option<String>,
    pub password: String,
    /// The current one-time code; required when the user has an OTP credential.
    pub totp: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub purpose: Purpose,
}

/// The outcome. Callers answer every `Rejected` the same way (no enumeration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted {
        /// The password was set by an admin as temporary and must be changed.
        temporary: bool,
    },
    Rejected,
}

/// The tenant's realm representation, or 404.
pub async fn realm(state: &State, tenant: &str) -> Result<std::sync::Arc<Value>, Error> {
    lookup_realm(&state.ctx.client, &*state.ctx.cache, tenant)
        .await?
        .ok_or_else(|| Error::RealmNotFound(tenant.to_owned()))
}

/// The context an OTP credential's seed is sealed under.
pub fn otp_secret_context(credential_id: &str) -> String {
    format!("otp-secret:{credential_id}")
}

pub async fn check_password(state: &State, attempt: Attempt) -> Result<Verdict, Error> {
    let realm = realm(state, &attempt.tenant).await?;
    let policy = LockoutPolicy::from_realm(&realm);
    let cost = PasswordPolicy::from_realm(&realm).bcrypt_cost;
    let now = now_millis();
    let tenant = attempt.tenant.clone();
    let locks = Lockouts {
        cache: &*state.ctx.cache,
    };

    let (credential, otp_credentials, locked) = match &attempt.user_id {
        Some(user_id) => {
            let (t, u) = (tenant.clone(), user_id.clone());
            let (credential, otps, permanently) = state
                .ctx
                .db
                .run(move |conn| {
                    Ok((
                        store::credential_of_type(conn, &t, &u, PASSWORD)?,
                        store::credentials_of_type(conn, &t, &u, OTP)?,
                        store::is_permanently_locked(conn, &t, &u)?,
                    ))
                })
                .await?;
            let locked = policy.enabled
                && (permanently || locks.locked_until(&tenant, user_id, now).await?.is_some());
            (credential, otps, locked)
        }
        None => (None, Vec::new(), false),
    };
    let hash = credential.as_ref().map(|c| c.secret_data.clone());
    // The hash runs even for a locked account, so its answer takes as long as any other.
    let matched = state
        .hasher
        .verify(attempt.password.clone(), hash, cost)
        .await?;
    let Some(user_id) = attempt.user_id.clone() else {
        return Ok(Verdict::Rejected);
    };
    let event = |kind: &str| SecurityEvent {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.clone(),
        user_id: Some(user_id.clone()),
        event_type: kind.to_owned(),
        ip: attempt.ip.clone(),
        user_agent: attempt.user_agent.clone(),
        created_at: now,
    };
    // The code is checked whatever the password (so the check's time tells nothing about the
    // password) but only spent behind a right password on an unlocked account, so nobody
    // without the password can burn the user's current code.
    let code_match = match (attempt.totp.as_deref(), locked) {
        (Some(code), false) if !otp_credentials.is_empty() => {
            matching_code(state, &realm, &otp_credentials, code, now)?
        }
        _ => None,
    };
    let otp_used = match code_match {
        Some(found) if matched => spend_code(state, &tenant, found).await?,
        _ => None,
    };
    let proven = matched && (otp_credentials.is_empty() || otp_used.is_some());
    if !proven || locked {
        events::record(state, event(events::FAILED_LOGIN)).await;
        // A right password during a lockout is not a guess; every wrong one is counted, also
        // during a lockout, so parallel guesses cannot slip past the counter.
        if policy.enabled && !(locked && matched) {
            let outcome = locks
                .record_failure(&policy, &tenant, &user_id, attempt.ip.as_deref(), now)
                .await?;
            let newly_blocked = if outcome.lock_permanently {
                let (t, u) = (tenant.clone(), user_id.clone());
                state
                    .ctx
                    .db
                    .run(move |conn| store::lock_permanently(conn, &t, &u, now))
                    .await?
            } else {
                !locked && outcome.locked_until.is_some()
            };
            if newly_blocked {
                events::record(state, event(events::USER_BLOCK)).await;
            }
        }
        return Ok(Verdict::Rejected);
    }
    if policy.enabled {
        locks.clear(&tenant, &user_id).await?;
    }
    if attempt.purpose == Purpose::Login {
        let mut used: Vec<String> = credential.iter().map(|c| c.id.clone()).collect();
        used.extend(otp_used);
        let (t, u) = (tenant.clone(), user_id.clone());
        state
            .ctx
            .db
            .run(move |conn| store::record_login(conn, &t, &u, now, &used))
            .await?;
        events::record(state, event(events::SUCCESSFUL_LOGIN)).await;
    }
    Ok(Verdict::Accepted {
        temporary: credential.is_some_and(|c: CredentialRow| c.temporary),
    })
}

/// Which OTP credential a code belongs to, at which step, and how long that step must be
/// remembered (None: reuse allowed by the realm).
struct CodeMatch {
    credential_id: String,
    step: u64,
    remember: Option<std::time::Duration>,
}

fn matching_code(
    state: &State,
    realm: &Value,
    credentials: &[CredentialRow],
    code: &str,
    now_ms: i64,
) -> Result<Option<CodeMatch>, Error> {
    let policy = OtpPolicy::from_realm(realm);
    let now_secs = (now_ms / 1000).max(0) as u64;
    for credential in credentials {
        let seed = state
            .secrets
            .open(&credential.secret_data, &otp_secret_context(&credential.id))
            .map_err(|e| Error::Internal(format!("OTP seed {}: {e}", credential.id)))?;
        let params = OtpParams::from_credential_data(credential.credential_data.as_deref());
        if let Some(step) = params.matching_step(&seed, policy.look_around, code, now_secs) {
            return Ok(Some(CodeMatch {
                credential_id: credential.id.clone(),
                step,
                remember: (!policy.code_reusable)
                    .then(|| used_step_ttl(&params, policy.look_around)),
            }));
        }
    }
    Ok(None)
}

/// Spends a matched code once: its step is remembered until no window accepts it, so a
/// replay is refused. The credential's id when this use was the first.
async fn spend_code(
    state: &State,
    tenant: &str,
    found: CodeMatch,
) -> Result<Option<String>, Error> {
    let Some(ttl) = found.remember else {
        return Ok(Some(found.credential_id));
    };
    let first_use = state
        .ctx
        .cache
        .set_if_absent(
            &used_step_key(tenant, &found.credential_id, found.step),
            b"1",
            ttl,
        )
        .await?;
    Ok(first_use.then_some(found.credential_id))
}
