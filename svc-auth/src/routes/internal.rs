//! `/internal/realms/{t}/...`: what other services ask of svc-auth (never proxied by the
//! gateway; the caller presents the service token).

use actix_web::{HttpResponse, web};
use idp_shared::error::Plain;
use idp_shared::names::{check_tenant_name, now_millis};
use idp_shared::security::InternalCaller;
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::sessions::end_sessions;
use crate::{State, clients, sessions, store, tenants, tokens, users};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/internal/realms/{realm}/users/{id}/logout",
        web::post().to(logout_user),
    )
    .route(
        "/internal/realms/{realm}/users/{id}/sessions",
        web::post().to(start_session),
    )
    .route(
        "/internal/realms/{realm}/sessions/refresh",
        web::post().to(refresh_session),
    )
    .route(
        "/internal/realms/{realm}/sessions/logout",
        web::post().to(end_session),
    )
    .route(
        "/internal/realms/{realm}/users/{id}/action-mail",
        web::post().to(action_mail),
    )
    .route("/internal/realms/{realm}", web::delete().to(delete_tenant));
}

#[derive(Debug, Deserialize)]
struct ActionMailBody {
    /// FORGOT_PASSWORD or VERIFY_EMAIL.
    template: String,
}

/// Mails a user a single-use link of the hosted pages (a password reset, an address to
/// verify), as the hosted "forgot password" page does: 202 `{queued}`, false when the user
/// has no address, is disabled, or was sent one in the last minute.
async fn action_mail(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<ActionMailBody>,
) -> Result<HttpResponse, Plain<Error>> {
    use crate::action_tokens::{self, ActionToken, Purpose};
    let (realm, user_id) = path.into_inner();
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let user = users::by_id(&state, &tenant.name, &user_id)
        .await?
        .ok_or_else(|| Error::InvalidRequest("no such user".into()))?;
    let email = user.field("email").map(str::to_owned);
    let (purpose, kind) = match (body.template.as_str(), &email) {
        ("FORGOT_PASSWORD", _) => (Purpose::ResetPassword, "reset-password"),
        ("VERIFY_EMAIL", Some(email)) => (
            Purpose::VerifyEmail {
                email: email.clone(),
            },
            "verify-email",
        ),
        ("VERIFY_EMAIL", None) => {
            return Ok(HttpResponse::Accepted().json(json!({"queued": false})));
        }
        (other, _) => {
            return Err(Error::InvalidRequest(format!(
                "template {other} carries no action link (FORGOT_PASSWORD or VERIFY_EMAIL)"
            ))
            .into());
        }
    };
    let Some(to) = email.filter(|_| user.enabled) else {
        return Ok(HttpResponse::Accepted().json(json!({"queued": false})));
    };
    if !action_tokens::may_mail(&state, &tenant.name, &user.id, kind).await? {
        return Ok(HttpResponse::Accepted().json(json!({"queued": false})));
    }
    let now = now_millis();
    let token = ActionToken {
        tenant: tenant.name.clone(),
        user_id: user.id.clone(),
        purpose,
        attempt_id: None,
        expires_at: now.saturating_add(tenant.action_token_lifespan.saturating_mul(1000)),
    };
    let key = action_tokens::issue(&state, &token, now).await?;
    let link = action_tokens::link(&state, &tenant, &key);
    action_tokens::mail(&state, &tenant, &body.template, &to, &link).await?;
    Ok(HttpResponse::Accepted().json(json!({"queued": true})))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    /// The client the tokens are issued to; Keycloak's `admin-cli` when absent.
    client_id: Option<String>,
    scope: Option<String>,
}

/// Issues tokens to a user whose password another service (svc-login's FOLIO login) has
/// checked: the password grant's reply, minus the password.
async fn start_session(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<SessionBody>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, user_id) = path.into_inner();
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let client_id = body.client_id.as_deref().unwrap_or("admin-cli");
    let client = clients::lookup(&state, &tenant.name, client_id)
        .await?
        .filter(|c| c.client.enabled && !c.client.bearer_only)
        .ok_or_else(|| Error::InvalidClient(format!("client {client_id} cannot sign users in")))?;
    let user = users::by_id(&state, &tenant.name, &user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(|| Error::InvalidGrant("user not found or disabled".into()))?;
    let scope = tokens::granted_scope(body.scope.as_deref())?;
    let reply = sessions::start(
        &state,
        &tenant,
        &client,
        &user,
        &scope,
        None,
        None,
        now_millis(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(reply))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

/// Rotates a refresh token for the client its session belongs to (FOLIO's refresh, where the
/// caller holds no client credentials).
async fn refresh_session(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, Plain<Error>> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let client_id = sessions::client_of(&state, &body.refresh_token)
        .await?
        .ok_or_else(|| Error::InvalidGrant("Invalid refresh token".into()))?;
    let client = clients::lookup(&state, &tenant.name, &client_id)
        .await?
        .filter(|c| c.client.enabled)
        .ok_or_else(|| Error::InvalidGrant("Invalid refresh token".into()))?;
    let reply =
        sessions::refresh(&state, &tenant, &client, &body.refresh_token, now_millis()).await?;
    Ok(HttpResponse::Ok().json(reply))
}

/// Ends the session of a refresh token: `{ended: 0|1}`.
async fn end_session(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, Plain<Error>> {
    let tenant = tenants::lookup(&state, &realm)
        .await?
        .ok_or_else(|| Error::RealmNotFound(realm.clone()))?;
    let ended = sessions::logout(&state, &tenant, &body.refresh_token, None, now_millis()).await?;
    Ok(HttpResponse::Ok().json(json!({ "ended": ended })))
}

/// Ends every session of a user (disabled, deleted, password reset): `{ended: n}`.
async fn logout_user(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, user_id) = path.into_inner();
    let tenant = tenants::lookup(&state, &realm)
        .await?
        .ok_or_else(|| Error::RealmNotFound(realm.clone()))?;
    let ended = end_sessions(&state, &tenant, None, Some(&user_id), now_millis()).await?;
    Ok(HttpResponse::Ok().json(json!({ "ended": ended })))
}

/// Removes the tenant's keys and sessions (tenant deletion).
async fn delete_tenant(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let tenant = realm.into_inner();
    check_tenant_name(&tenant).map_err(Error::InvalidRequest)?;
    state
        .ctx
        .db
        .run(move |conn| store::delete_tenant(conn, &tenant))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}
