//! Setting a password: the tenant's policy, the history, one bcrypt hash, one transaction.

use idp_shared::names::now_millis;

use crate::error::Error;
use crate::login::realm;
use crate::policy::PasswordPolicy;
use crate::store::{self, CredentialRow, PASSWORD, SecurityEvent};
use crate::{State, events};

#[derive(Debug, Clone, Default)]
pub struct NewPassword {
    pub tenant: String,
    pub user_id: String,
    pub value: String,
    pub temporary: bool,
    /// For the policy's notUsername / notEmail.
    pub username: Option<String>,
    pub email: Option<String>,
    /// The event recorded: PASSWORD_CREATE, PASSWORD_CHANGE or PASSWORD_RESET.
    pub event: &'static str,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Whether `value` equals one of the passwords passwordHistory(n) forbids to reuse.
pub async fn is_recent(
    state: &State,
    tenant: &str,
    user_id: &str,
    value: &str,
) -> Result<bool, Error> {
    let policy = PasswordPolicy::from_realm(&*realm(state, tenant).await?);
    let (t, u, n) = (tenant.to_owned(), user_id.to_owned(), policy.history);
    let hashes = state
        .ctx
        .db
        .run(move |conn| store::recent_password_hashes(conn, &t, &u, n))
        .await?;
    for hash in hashes {
        if state
            .hasher
            .verify(value.to_owned(), Some(hash), policy.bcrypt_cost)
            .await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the tenant's policy and the user's history allow this new password; the policy.
/// Nothing is stored, so a caller can check before it spends anything (a reset action).
pub async fn check_new(state: &State, new: &NewPassword) -> Result<PasswordPolicy, Error> {
    let policy = PasswordPolicy::from_realm(&*realm(state, &new.tenant).await?);
    policy
        .check(&new.value, new.username.as_deref(), new.email.as_deref())
        .map_err(Error::PolicyViolation)?;
    if policy.history > 0 && is_recent(state, &new.tenant, &new.user_id, &new.value).await? {
        return Err(Error::PolicyViolation(format!(
            "the password may not be one of the last {} passwords",
            policy.history
        )));
    }
    Ok(policy)
}

/// Returns the new credential's id.
pub async fn set_password(state: &State, new: NewPassword) -> Result<String, Error> {
    let policy = check_new(state, &new).await?;
    let hash = state
        .hasher
        .hash(new.value.clone(), policy.bcrypt_cost)
        .await?;
    let now = now_millis();
    let row = CredentialRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: new.tenant.clone(),
        user_id: new.user_id.clone(),
        credential_type: PASSWORD.to_owned(),
        secret_data: hash,
        temporary: new.temporary,
        user_label: None,
        created_date: now,
        credential_data: None,
        login_count: 0,
        last_login_at: None,
    };
    let id = row.id.clone();
    // The history keeps n - 1 earlier hashes: with the current one that makes n.
    let keep = policy.history.saturating_sub(1);
    state
        .ctx
        .db
        .run(move |conn| store::replace_password(conn, &row, keep))
        .await?;
    events::record(
        state,
        SecurityEvent {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: new.tenant,
            user_id: Some(new.user_id),
            event_type: new.event.to_owned(),
            ip: new.ip,
            user_agent: new.user_agent,
            created_at: now,
        },
    )
    .await;
    Ok(id)
}
