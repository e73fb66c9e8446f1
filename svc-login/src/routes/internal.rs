//! `/internal/realms/{t}/...`: what svc-auth and svc-users ask of svc-login (never proxied
//! by the gateway; the caller presents the service token).

use actix_web::{HttpResponse, web};
use idp_shared::error::Plain;
use idp_shared::names::check_tenant_name;
use idp_shared::security::InternalCaller;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::login::{Attempt, Purpose, Verdict, check_password, otp_secret_context, realm};
use crate::otp::{OtpPolicy, secret_from_base32};
use crate::passwords::{NewPassword, set_password};
use crate::store::{self, CredentialRow, OTP};
use crate::{State, events};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/internal/realms/{realm}/password/verify",
        web::post().to(verify_password),
    )
    .route(
        "/internal/realms/{realm}/users/login-facts",
        web::post().to(login_facts),
    )
    .route(
        "/internal/realms/{realm}/users/{id}/password",
        web::put().to(put_password),
    )
    .route(
        "/internal/realms/{realm}/users/{id}/otp",
        web::post().to(create_otp),
    )
    .route(
        "/internal/realms/{realm}/events/purge",
        web::post().to(purge_events),
    )
    .route(
        "/internal/realms/{realm}/users/{id}/credentials",
        web::get().to(list_credentials),
    )
    .route(
        "/internal/realms/{realm}/users/{id}/credentials/{cred}",
        web::delete().to(delete_credential),
    )
    .route(
        "/internal/realms/{realm}/users/{id}",
        web::delete().to(delete_user),
    )
    .route("/internal/realms/{realm}", web::delete().to(delete_tenant));
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyBody {
    user_id: Option<String>,
    password: String,
    /// The current one-time code; required for users with an OTP credential.
    totp: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// `{valid, temporary}`: one answer for a wrong password or code, a missing code, an unknown
/// user and a locked account.
async fn verify_password(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<VerifyBody>,
) -> Result<HttpResponse, Plain<Error>> {
    let body = body.into_inner();
    let verdict = check_password(
        &state,
        Attempt {
            tenant: realm.into_inner(),
            user_id: body.user_id,
            password: body.password,
            totp: body.totp.filter(|c| !c.is_empty()),
            ip: body.ip,
            user_agent: body.user_agent,
            purpose: Purpose::Login,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(match verdict {
        Verdict::Accepted { temporary } => json!({"valid": true, "temporary": temporary}),
        Verdict::Rejected => json!({"valid": false, "temporary": false}),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasswordBody {
    value: String,
    #[serde(default)]
    temporary: bool,
    username: Option<String>,
    email: Option<String>,
    /// "create", "change" (default) or "reset": which event is recorded.
    reason: Option<String>,
}

/// Sets a user's password (policy and history applied): 204, or 400 naming the broken rule.
async fn put_password(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, Plain<Error>> {
    let (tenant, user_id) = path.into_inner();
    let body = body.into_inner();
    let event = match body.reason.as_deref() {
        Some("create") => events::PASSWORD_CREATE,
        Some("reset") => events::PASSWORD_RESET,
        None | Some("change") => events::PASSWORD_CHANGE,
        Some(other) => return Err(Error::Invalid(format!("unknown reason {other:?}")).into()),
    };
    set_password(
        &state,
        NewPassword {
            tenant,
            user_id,
            value: body.value,
            temporary: body.temporary,
            username: body.username,
            email: body.email,
            event,
            ip: None,
            user_agent: None,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Keycloak's credential representation: metadata only, never the secret.
pub fn credential_representation(row: &CredentialRow) -> Value {
    let mut rep = Map::new();
    rep.insert("id".into(), json!(row.id));
    rep.insert("type".into(), json!(row.credential_type));
    rep.insert("createdDate".into(), json!(row.created_date));
    if let Some(label) = &row.user_label {
        rep.insert("userLabel".into(), json!(label));
    }
    if row.temporary {
        rep.insert("temporary".into(), json!(true));
    }
    if let Some(data) = &row.credential_data {
        rep.insert("credentialData".into(), json!(data));
    }
    Value::Object(rep)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OtpBody {
    /// The seed as authenticator apps show it (base32).
    secret: String,
    user_label: Option<String>,
}

/// Gives a user a TOTP credential made with the realm's OTP policy; the seed is sealed.
/// 201 `{id}`; 400 for a seed that is not base32 of at least 128 bits.
async fn create_otp(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<OtpBody>,
) -> Result<HttpResponse, Plain<Error>> {
    let (tenant, user_id) = path.into_inner();
    let body = body.into_inner();
    let seed = secret_from_base32(&body.secret).map_err(Error::Invalid)?;
    let label = body.user_label.filter(|l| !l.is_empty());
    if label.as_ref().is_some_and(|l| l.chars().count() > 255) {
        return Err(Error::Invalid("userLabel is longer than 255 characters".into()).into());
    }
    let policy = OtpPolicy::from_realm(&*realm(&state, &tenant).await?);
    if !policy.time_based {
        return Err(Error::Invalid(
            "the realm's OTP policy is HOTP; only TOTP is supported".into(),
        )
        .into());
    }
    let id = uuid::Uuid::new_v4().to_string();
    let row = CredentialRow {
        secret_data: state.secrets.seal(&seed, &otp_secret_context(&id)),
        id: id.clone(),
        tenant,
        user_id,
        credential_type: OTP.to_owned(),
        temporary: false,
        user_label: label,
        created_date: idp_shared::names::now_millis(),
        credential_data: Some(policy.params.credential_data()),
        login_count: 0,
        last_login_at: None,
    };
    state
        .ctx
        .db
        .run(move |conn| store::insert_credential(conn, &row))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Created().json(json!({ "id": id })))
}

/// Deletes the tenant's events older than its `eventsExpiration` now: `{deleted}` (the
/// hourly task does the same for every tenant).
async fn purge_events(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let deleted = events::purge_expired(&state, &realm, idp_shared::names::now_millis()).await?;
    Ok(HttpResponse::Ok().json(json!({ "deleted": deleted })))
}

async fn list_credentials(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (tenant, user_id) = path.into_inner();
    let rows = state
        .ctx
        .db
        .run(move |conn| store::credentials_of(conn, &tenant, &user_id))
        .await
        .map_err(Error::from)?;
    let reps: Vec<Value> = rows.iter().map(credential_representation).collect();
    Ok(HttpResponse::Ok().json(reps))
}

async fn delete_credential(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (tenant, user_id, id) = path.into_inner();
    let found = state
        .ctx
        .db
        .run(move |conn| store::delete_credential(conn, &tenant, &user_id, &id))
        .await
        .map_err(Error::from)?;
    if !found {
        return Err(Error::CredentialNotFound.into());
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginFactsBody {
    user_ids: Vec<String>,
}

/// `{userId: {lastLoginTimestamp, lastPasswordChangeTimestamp}}` for a page of users, in one
/// query (the security report asks once per page).
async fn login_facts(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<LoginFactsBody>,
) -> Result<HttpResponse, Plain<Error>> {
    let ids = body.into_inner().user_ids;
    if ids.len() > 1000 {
        return Err(Error::Invalid("at most 1000 user ids per call".into()).into());
    }
    let tenant = realm.into_inner();
    let (rows, with_otp) = state
        .ctx
        .db
        .run(move |conn| {
            Ok((
                store::login_facts_of(conn, &tenant, &ids)?,
                store::users_with_otp(conn, &tenant, &ids)?,
            ))
        })
        .await
        .map_err(Error::from)?;
    let mut facts: Map<String, Value> = rows
        .into_iter()
        .map(|(id, login, change)| {
            let totp = with_otp.contains(&id);
            (
                id,
                json!({"lastLoginTimestamp": login, "lastPasswordChangeTimestamp": change, "totp": totp}),
            )
        })
        .collect();
    for id in with_otp {
        facts.entry(id).or_insert_with(|| {
            json!({"lastLoginTimestamp": null, "lastPasswordChangeTimestamp": null, "totp": true})
        });
    }
    Ok(HttpResponse::Ok().json(facts))
}

/// The user is gone: its credentials, history, facts and lockout go too.
async fn delete_user(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (tenant, user_id) = path.into_inner();
    let (t, u) = (tenant.clone(), user_id.clone());
    state
        .ctx
        .db
        .run(move |conn| store::delete_user(conn, &t, &u))
        .await
        .map_err(Error::from)?;
    crate::lockout::Lockouts {
        cache: &*state.ctx.cache,
    }
    .clear(&tenant, &user_id)
    .await
    .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete_tenant(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let tenant = realm.into_inner();
    check_tenant_name(&tenant).map_err(Error::Invalid)?;
    let t = tenant.clone();
    state
        .ctx
        .db
        .run(move |conn| store::delete_tenant(conn, &t))
        .await
        .map_err(Error::from)?;
    crate::lockout::Lockouts {
        cache: &*state.ctx.cache,
    }
    .clear_all(&tenant, idp_shared::names::now_millis())
    .await
    .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}
