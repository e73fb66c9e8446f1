//! NEVIS's credential listing: a user's credentials with their state as NEVIS names it,
//! derived from the real lockout and reset state, paged by continuation token. Errors take
//! svc-login's one shape (FOLIO's error list), as the bearer check's refusals do.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Folio;
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::lockout::{LockoutPolicy, LockoutStatus, Lockouts};
use crate::login::realm;
use crate::policy::PasswordPolicy;
use crate::store::{self, CredentialRow, OTP, PASSWORD};
use crate::time::format_iso;
use crate::{State, peers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `{realm}` is NEVIS's clientExtId: the name lets the bearer check accept the tenant's
    // own tokens as well as master's.
    cfg.route(
        "/nevisidm/api/core/v1/{realm}/users/{extId}/credentials",
        web::get().to(list),
    );
}

/// Items per page when the caller sets no limit (NEVIS's limit 0).
pub const MAX_LIMIT: usize = 1000;

/// Where a page starts: after the item with this creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    pub created_millis: i64,
    pub ext_id: String,
}

impl Continuation {
    /// `{createdMillis}_{extId}`, as NEVIS writes it.
    pub fn parse(token: &str) -> Result<Continuation, String> {
        let malformed = || "continuationToken must be {createdMillis}_{extId}".to_owned();
        let (millis, ext_id) = token.split_once('_').ok_or_else(malformed)?;
        if millis.is_empty() || !millis.bytes().all(|b| b.is_ascii_digit()) || ext_id.is_empty() {
            return Err(malformed());
        }
        let created_millis = millis.parse().map_err(|_| malformed())?;
        Ok(Continuation {
            created_millis,
            ext_id: ext_id.to_owned(),
        })
    }

    pub fn of(row: &CredentialRow) -> String {
        format!("{}_{}", row.created_date, row.id)
    }

    fn is_before(&self, row: &CredentialRow) -> bool {
        (row.created_date, row.id.as_str()) > (self.created_millis, self.ext_id.as_str())
    }
}

/// What NEVIS calls the state of a credential, from what svc-login knows of the user.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserState {
    pub disabled: bool,
    pub permanently_locked: bool,
    pub temporarily_locked: bool,
    pub reset_pending: bool,
}

pub fn state_name(row: &CredentialRow, user: &UserState) -> &'static str {
    if user.disabled {
        "disabled"
    } else if user.permanently_locked {
        "fail-locked"
    } else if user.temporarily_locked {
        "tmp-locked"
    } else if row.credential_type == PASSWORD && user.reset_pending {
        "reset-code"
    } else if row.temporary {
        "initial"
    } else {
        "active"
    }
}

fn nevis_type(kind: &str) -> &'static str {
    match kind {
        PASSWORD => "Password",
        OTP => "OATH",
        _ => "Generic Credential",
    }
}

fn item(
    row: &CredentialRow,
    user: &UserState,
    lockout: &LockoutStatus,
    password_policy: &PasswordPolicy,
) -> Value {
    let mut rep = Map::new();
    let created = format_iso(row.created_date);
    rep.insert("created".into(), json!(created));
    rep.insert("lastModified".into(), json!(created));
    // A credential is replaced, never edited: each row has one version.
    rep.insert("version".into(), json!(1));
    rep.insert("extId".into(), json!(row.id));
    rep.insert("userExtId".into(), json!(row.user_id));
    rep.insert("stateName".into(), json!(state_name(row, user)));
    if let Some(at) = row.last_login_at {
        rep.insert("lastSuccessfulLoginDate".into(), json!(format_iso(at)));
    }
    rep.insert("successfulLoginCount".into(), json!(row.login_count));
    if let Some(at) = lockout.last_failure {
        rep.insert("lastFailedLoginDate".into(), json!(format_iso(at)));
    }
    rep.insert("failedLoginCount".into(), json!(lockout.failures));
    rep.insert("type".into(), json!(nevis_type(&row.credential_type)));
    let mut validity = Map::new();
    validity.insert("from".into(), json!(created));
    if row.credential_type == PASSWORD && password_policy.expire_days > 0 {
        let to = row.created_date + password_policy.expire_days * 86_400_000;
        validity.insert("to".into(), json!(format_iso(to)));
    }
    rep.insert("validity".into(), Value::Object(validity));
    Value::Object(rep)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    continuation_token: Option<String>,
    limit: Option<i64>,
}

/// `{items, _pagination: {continuationToken?, limit, totalResult}}`, oldest first; the token
/// is given while more items follow.
async fn list(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, Folio<Error>> {
    let (tenant, user_id) = path.into_inner();
    if !caller.is_user(&tenant, &user_id) {
        caller
            .require(&tenant, Permission::ViewUsers)
            .map_err(Error::from)?;
    }
    let params = params.into_inner();
    let limit = match params.limit {
        None | Some(0) => MAX_LIMIT,
        Some(n) if n < 0 => return Err(Error::Invalid("limit may not be negative".into()).into()),
        Some(n) => (n as usize).min(MAX_LIMIT),
    };
    let after = params
        .continuation_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(Continuation::parse)
        .transpose()
        .map_err(Error::Invalid)?;
    let realm = realm(&state, &tenant).await?;
    let user = peers::user_by_id(&state, &tenant, &user_id)
        .await?
        .ok_or_else(|| Error::NotFound("user not found".into()))?;
    let now = now_millis();
    let (t, u) = (tenant.clone(), user.id.clone());
    let (mut rows, permanently_locked, reset_pending) = state
        .ctx
        .db
        .run(move |conn| {
            Ok((
                store::credentials_of(conn, &t, &u)?,
                store::is_permanently_locked(conn, &t, &u)?,
                store::has_live_reset_action(conn, &t, &u, now)?,
            ))
        })
        .await
        .map_err(Error::from)?;
    let lockout_policy = LockoutPolicy::from_realm(&realm);
    let lockout = Lockouts {
        cache: &*state.ctx.cache,
    }
    .status(&tenant, &user.id, now)
    .await
    .map_err(Error::from)?;
    let user_state = UserState {
        disabled: !user.enabled,
        permanently_locked: lockout_policy.enabled && permanently_locked,
        temporarily_locked: lockout_policy.enabled && lockout.locked_until.is_some(),
        reset_pending,
    };
    rows.sort_by(|a, b| (a.created_date, &a.id).cmp(&(b.created_date, &b.id)));
    let total = rows.len();
    let rest: Vec<&CredentialRow> = rows
        .iter()
        .filter(|r| after.as_ref().is_none_or(|c| c.is_before(r)))
        .collect();
    let page = &rest[..rest.len().min(limit)];
    let password_policy = PasswordPolicy::from_realm(&realm);
    let items: Vec<Value> = page
        .iter()
        .map(|r| item(r, &user_state, &lockout, &password_policy))
        .collect();
    let mut pagination = json!({ "limit": limit, "totalResult": total });
    if rest.len() > page.len()
        && let Some(last) = page.last()
    {
        pagination["continuationToken"] = json!(Continuation::of(last));
    }
    Ok(HttpResponse::Ok().json(json!({ "items": items, "_pagination": pagination })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, created: i64, kind: &str, temporary: bool) -> CredentialRow {
        CredentialRow {
            id: id.into(),
            tenant: "acme".into(),
            user_id: "u1".into(),
            credential_type: kind.into(),
            secret_data: "x".into(),
            temporary,
            user_label: None,
            created_date: created,
            credential_data: None,
            login_count: 0,
            last_login_at: None,
        }
    }

    #[test]
    fn continuation_tokens_are_created_millis_and_ext_id() {
        let c = Continuation::parse("1700000000000_abc_def").unwrap();
        assert_eq!(c.created_millis, 1_700_000_000_000);
        assert_eq!(c.ext_id, "abc_def");
        assert_eq!(Continuation::of(&row("id-1", 5, PASSWORD, false)), "5_id-1");
        for bad in [
            "",
            "_x",
            "12_",
            "abc_x",
            "-1_x",
            "12",
            "99999999999999999999_x",
        ] {
            assert!(Continuation::parse(bad).is_err(), "{bad}");
        }
        assert!(c.is_before(&row("b", 1_700_000_000_001, OTP, false)));
        assert!(!c.is_before(&row("abc_def", 1_700_000_000_000, OTP, false)));
    }

    #[test]
    fn states_follow_lockout_reset_and_temporary() {
        let password = row("p", 1, PASSWORD, false);
        let temporary = row("t", 1, PASSWORD, true);
        let otp = row("o", 1, OTP, false);
        let none = UserState::default();
        assert_eq!(state_name(&password, &none), "active");
        assert_eq!(state_name(&temporary, &none), "initial");
        let reset = UserState {
            reset_pending: true,
            ..none
        };
        assert_eq!(state_name(&password, &reset), "reset-code");
        assert_eq!(state_name(&otp, &reset), "active");
        let tmp = UserState {
            temporarily_locked: true,
            ..none
        };
        assert_eq!(state_name(&otp, &tmp), "tmp-locked");
        let fail = UserState {
            permanently_locked: true,
            ..tmp
        };
        assert_eq!(state_name(&password, &fail), "fail-locked");
        let disabled = UserState {
            disabled: true,
            ..fail
        };
        assert_eq!(state_name(&password, &disabled), "disabled");
    }
}
