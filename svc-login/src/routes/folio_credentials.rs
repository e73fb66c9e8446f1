//! FOLIO's credential API: self-update, credentials of a user, password history, password
//! reset actions and login attempts. Every password check goes through `check_password`.

use actix_web::{HttpRequest, HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Folio;
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::folio::{FolioCaller, OkapiTenant, client_address, user_agent};
use crate::lockout::Lockouts;
use crate::login::{Attempt, Purpose, Verdict, check_password, realm};
use crate::passwords::{NewPassword, check_new, is_recent, set_password};
use crate::peers::{self, UserInfo};
use crate::store::{self, PASSWORD, ResetActionRow, ResetActionStored};
use crate::time::{format_iso, parse_iso};
use crate::{State, events};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/authn/update", web::post().to(update))
        .route("/authn/credentials", web::post().to(create_credentials))
        .route("/authn/credentials", web::delete().to(delete_credentials))
        .route(
            "/authn/credentials-existence",
            web::get().to(credentials_existence),
        )
        .route("/authn/password/repeatable", web::post().to(repeatable))
        .route(
            "/authn/password-reset-action",
            web::post().to(create_reset_action),
        )
        .route(
            "/authn/password-reset-action/{actionId}",
            web::get().to(get_reset_action),
        )
        .route("/authn/reset-password", web::post().to(reset_password))
        .route(
            "/authn/loginAttempts/{userId}",
            web::get().to(login_attempts),
        );
}

type Reply = Result<HttpResponse, Folio<Error>>;

/// The user named by username (preferred, as FOLIO's login) or id; when both are given they
/// must name the same user.
async fn find_user(
    state: &State,
    tenant: &str,
    username: Option<&str>,
    user_id: Option<&str>,
) -> Result<Option<UserInfo>, Error> {
    let username = username.filter(|u| !u.is_empty());
    let user_id = user_id.filter(|u| !u.is_empty());
    let user = match (username, user_id) {
        (Some(name), _) => peers::user_by_username(state, tenant, name).await?,
        (None, Some(id)) => peers::user_by_id(state, tenant, id).await?,
        (None, None) => None,
    };
    Ok(user.filter(|u| user_id.is_none_or(|id| id == u.id)))
}

/// Proves a user's password (and one-time code, if the user has OTP) through the one check
/// every login takes: the user and whether the password is temporary, or one refusal for
/// an unknown user, a wrong password or code, and a locked account.
#[allow(clippy::too_many_arguments)] // the parts of one attempt, all from one request
pub async fn authenticate(
    state: &State,
    tenant: &str,
    req: &HttpRequest,
    username: Option<&str>,
    user_id: Option<&str>,
    password: String,
    totp: Option<String>,
    purpose: Purpose,
) -> Result<(UserInfo, bool), Error> {
    // The tenant first: an unknown one is 404, not a refused password.
    realm(state, tenant).await?;
    let user = find_user(state, tenant, username, user_id).await?;
    let verdict = check_password(
        state,
        Attempt {
            tenant: tenant.to_owned(),
            user_id: user.as_ref().map(|u| u.id.clone()),
            password,
            totp,
            ip: client_address(req),
            user_agent: user_agent(req),
            purpose,
        },
    )
    .await?;
    match (user, verdict) {
        (Some(user), Verdict::Accepted { temporary }) => Ok((user, temporary)),
        _ => Err(Error::InvalidCredentials),
    }
}

/// 403 unless the caller is the user or holds `permission` in the tenant.
fn require_self_or(
    caller: &Caller,
    tenant: &str,
    user_id: &str,
    permission: Permission,
) -> Result<(), Error> {
    if caller.is_user(tenant, user_id) {
        return Ok(());
    }
    caller.require(tenant, permission).map_err(Error::from)
}

fn required(value: Option<String>, name: &str) -> Result<String, Error> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Invalid(format!("{name} is required")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    username: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
    new_password: Option<String>,
    totp: Option<String>,
}

/// Self-update: the current password (and code) is checked like a login (FOLIO did not check
/// it); then the new one must pass the policy. Works without a token, so a user whose
/// password is temporary (who cannot get one) can replace it. 204.
async fn update(
    tenant: OkapiTenant,
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<UpdateBody>,
) -> Reply {
    let body = body.into_inner();
    let password = required(body.password, "password")?;
    let new_password = required(body.new_password, "newPassword")?;
    if body.username.as_deref().is_none_or(str::is_empty)
        && body.user_id.as_deref().is_none_or(str::is_empty)
    {
        return Err(Error::Invalid("username or userId is required".into()).into());
    }
    let (user, _) = authenticate(
        &state,
        &tenant.0,
        &req,
        body.username.as_deref(),
        body.user_id.as_deref(),
        password,
        body.totp,
        Purpose::Reauthenticate,
    )
    .await?;
    if !user.enabled {
        return Err(Error::AccountUnusable("Account disabled".into()).into());
    }
    set_password(
        &state,
        NewPassword {
            tenant: tenant.0,
            user_id: user.id,
            value: new_password,
            temporary: false,
            username: Some(user.username),
            email: user.email,
            event: events::PASSWORD_CHANGE,
            ip: client_address(&req),
            user_agent: user_agent(&req),
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn has_password(state: &State, tenant: &str, user_id: &str) -> Result<bool, Error> {
    let (t, u) = (tenant.to_owned(), user_id.to_owned());
    Ok(state
        .ctx
        .db
        .run(move |conn| store::credential_of_type(conn, &t, &u, PASSWORD))
        .await?
        .is_some())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsBody {
    username: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
}

/// An administrator gives a user their first password: 201, or 400 if one exists.
async fn create_credentials(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<CredentialsBody>,
) -> Reply {
    caller
        .require(&tenant.0, Permission::ManageUsers)
        .map_err(Error::from)?;
    let body = body.into_inner();
    let password = required(body.password, "password")?;
    if body.username.as_deref().is_none_or(str::is_empty)
        && body.user_id.as_deref().is_none_or(str::is_empty)
    {
        return Err(Error::Invalid("username or userId is required".into()).into());
    }
    realm(&state, &tenant.0).await?;
    let user = find_user(
        &state,
        &tenant.0,
        body.username.as_deref(),
        body.user_id.as_deref(),
    )
    .await?
    .ok_or_else(|| Error::NotFound("user not found".into()))?;
    if has_password(&state, &tenant.0, &user.id).await? {
        return Err(Error::Exists(format!(
            "There already exists credentials for a user: {}",
            user.username
        ))
        .into());
    }
    set_password(
        &state,
        NewPassword {
            tenant: tenant.0,
            user_id: user.id,
            value: password,
            temporary: false,
            username: Some(user.username),
            email: user.email,
            event: events::PASSWORD_CREATE,
            ip: client_address(&req),
            user_agent: user_agent(&req),
        },
    )
    .await?;
    Ok(HttpResponse::Created().finish())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIdParam {
    user_id: Option<String>,
}

/// Removes a user's password: 204, 404 when there is none.
async fn delete_credentials(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    params: web::Query<UserIdParam>,
) -> Reply {
    caller
        .require(&tenant.0, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user_id = required(params.into_inner().user_id, "userId")?;
    realm(&state, &tenant.0).await?;
    let (t, u) = (tenant.0.clone(), user_id.clone());
    let deleted = state
        .ctx
        .db
        .run(move |conn| store::delete_password(conn, &t, &u))
        .await
        .map_err(Error::from)?;
    if !deleted {
        return Err(Error::NotFound(format!("No credentials for userId {user_id} found")).into());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `{credentialsExist}`: whether the user has a password (false for unknown users).
async fn credentials_existence(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    params: web::Query<UserIdParam>,
) -> Reply {
    let user_id = required(params.into_inner().user_id, "userId")?;
    require_self_or(&caller, &tenant.0, &user_id, Permission::ViewUsers)?;
    realm(&state, &tenant.0).await?;
    let exists = has_password(&state, &tenant.0, &user_id).await?;
    Ok(HttpResponse::Ok().json(json!({ "credentialsExist": exists })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepeatableBody {
    password: Option<String>,
    user_id: Option<String>,
}

/// `{result: "valid" | "invalid"}`: whether the tenant's passwordHistory allows the password
/// (FOLIO's answer was always "valid"). The user or an administrator only: it is an oracle.
async fn repeatable(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    body: web::Json<RepeatableBody>,
) -> Reply {
    let body = body.into_inner();
    let password = required(body.password, "password")?;
    let user_id = required(body.user_id, "userId")?;
    require_self_or(&caller, &tenant.0, &user_id, Permission::ManageUsers)?;
    let recent = is_recent(&state, &tenant.0, &user_id, &password).await?;
    let result = if recent { "invalid" } else { "valid" };
    Ok(HttpResponse::Ok().json(json!({ "result": result })))
}

/// A reset action id is a bearer secret (it travels in the reset link): stored hashed.
fn action_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateActionBody {
    id: Option<String>,
    user_id: Option<String>,
    expiration_time: Option<String>,
}

/// Stores a reset action (replacing the user's earlier one): 201 `{passwordExists}`.
async fn create_reset_action(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    body: web::Json<CreateActionBody>,
) -> Reply {
    caller
        .require(&tenant.0, Permission::ManageUsers)
        .map_err(Error::from)?;
    let body = body.into_inner();
    let id = required(body.id, "id")?;
    if id.len() > 255 {
        return Err(Error::Invalid("id is longer than 255 characters".into()).into());
    }
    let user_id = required(body.user_id, "userId")?;
    let expiration = required(body.expiration_time, "expirationTime")?;
    let expires_at = parse_iso(&expiration).ok_or_else(|| {
        Error::Invalid("expirationTime must be an ISO-8601 date-time with a zone".into())
    })?;
    let now = now_millis();
    if expires_at <= now {
        return Err(Error::Invalid("expirationTime is in the past".into()).into());
    }
    realm(&state, &tenant.0).await?;
    let user = peers::user_by_id(&state, &tenant.0, &user_id)
        .await?
        .ok_or_else(|| Error::NotFound("user not found".into()))?;
    let password_exists = has_password(&state, &tenant.0, &user.id).await?;
    let row = ResetActionRow {
        id_hash: action_hash(&id),
        tenant: tenant.0.clone(),
        user_id: user.id,
        expires_at,
        created_at: now,
    };
    let stored = state
        .ctx
        .db
        .run(move |conn| store::insert_reset_action(conn, &row))
        .await
        .map_err(Error::from)?;
    if stored == ResetActionStored::IdTaken {
        return Err(
            Error::Exists("a password reset action with this id exists already".into()).into(),
        );
    }
    Ok(HttpResponse::Created().json(json!({ "passwordExists": password_exists })))
}

fn action_gone() -> Error {
    Error::NotFound("password reset action not found, used or expired".into())
}

/// `{id, userId, expirationTime}` of a live action; 404 once used or expired.
async fn get_reset_action(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Reply {
    caller
        .require(&tenant.0, Permission::ManageUsers)
        .map_err(Error::from)?;
    let id = path.into_inner();
    let (t, hash) = (tenant.0.clone(), action_hash(&id));
    let action = state
        .ctx
        .db
        .run(move |conn| store::live_reset_action(conn, &t, &hash, now_millis()))
        .await
        .map_err(Error::from)?
        .ok_or_else(action_gone)?;
    Ok(HttpResponse::Ok().json(json!({
        "id": id,
        "userId": action.user_id,
        "expirationTime": format_iso(action.expires_at),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResetBody {
    password_reset_action_id: Option<String>,
    new_password: Option<String>,
}

/// Spends a reset action on a new password: 201 `{isNewPassword}`. The action proves who
/// may do this (no token). A refused password leaves the action unspent; every session of
/// the user ends, as whoever held the old password may hold one.
async fn reset_password(
    tenant: OkapiTenant,
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<ResetBody>,
) -> Reply {
    let body = body.into_inner();
    let id = required(body.password_reset_action_id, "passwordResetActionId")?;
    let new_password = required(body.new_password, "newPassword")?;
    realm(&state, &tenant.0).await?;
    let hash = action_hash(&id);
    let (t, h) = (tenant.0.clone(), hash.clone());
    let action = state
        .ctx
        .db
        .run(move |conn| store::live_reset_action(conn, &t, &h, now_millis()))
        .await
        .map_err(Error::from)?
        .ok_or_else(action_gone)?;
    let user = peers::user_by_id(&state, &tenant.0, &action.user_id)
        .await?
        .ok_or_else(action_gone)?;
    let new = NewPassword {
        tenant: tenant.0.clone(),
        user_id: user.id.clone(),
        value: new_password,
        temporary: false,
        username: Some(user.username.clone()),
        email: user.email.clone(),
        event: events::PASSWORD_RESET,
        ip: client_address(&req),
        user_agent: user_agent(&req),
    };
    check_new(&state, &new).await?;
    let had_password = has_password(&state, &tenant.0, &user.id).await?;
    let t = tenant.0.clone();
    let claimed = state
        .ctx
        .db
        .run(move |conn| store::claim_reset_action(conn, &t, &hash, now_millis()))
        .await
        .map_err(Error::from)?
        .ok_or_else(action_gone)?;
    if let Err(e) = set_password(&state, new).await {
        // The password did not change: the link stays usable.
        let restored = state
            .ctx
            .db
            .run(move |conn| store::restore_reset_action(conn, &claimed))
            .await;
        if let Err(restore) = restored {
            tracing::warn!(error = %restore, "spent reset action not restored");
        }
        return Err(e.into());
    }
    if let Err(e) = peers::end_user_sessions(&state, &tenant.0, &user.id).await {
        tracing::warn!(error = %e, "sessions not ended after a password reset");
    }
    Ok(HttpResponse::Created().json(json!({ "isNewPassword": !had_password })))
}

/// `{id, userId, lastAttempt, attemptCount}`: the failures the lockout counts and the last
/// attempt (failure or login).
async fn login_attempts(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Reply {
    let user_id = path.into_inner();
    require_self_or(&caller, &tenant.0, &user_id, Permission::ViewUsers)?;
    realm(&state, &tenant.0).await?;
    let user = peers::user_by_id(&state, &tenant.0, &user_id)
        .await?
        .ok_or_else(|| Error::NotFound("user not found".into()))?;
    let lockout = Lockouts {
        cache: &*state.ctx.cache,
    }
    .status(&tenant.0, &user.id, now_millis())
    .await
    .map_err(Error::from)?;
    let (t, ids) = (tenant.0.clone(), vec![user.id.clone()]);
    let last_login = state
        .ctx
        .db
        .run(move |conn| store::login_facts_of(conn, &t, &ids))
        .await
        .map_err(Error::from)?
        .into_iter()
        .find_map(|(_, login, _)| login);
    let last_attempt = lockout.last_failure.max(last_login);
    let mut reply = json!({
        "id": user.id,
        "userId": user.id,
        "attemptCount": lockout.failures,
    });
    if let Some(at) = last_attempt {
        reply["lastAttempt"] = json!(format_iso(at));
    }
    Ok(HttpResponse::Ok().json(reply))
}
