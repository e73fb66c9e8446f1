//! What svc-users asks of the other services: role names (svc-tenants), apps and their roles
//! (svc-apps), passwords and credentials (svc-login), sessions (svc-auth).

use actix_web::http::StatusCode;
use idp_shared::ServiceKind;
use idp_shared::error::ErrorInfo;
use idp_shared::realms::lookup_realm;
use reqwest::Method;
use serde_json::{Value, json};

use crate::State;
use crate::error::Error;

fn upstream(service: ServiceKind, cause: impl std::fmt::Display) -> Error {
    Error::Upstream(format!("{service}: {cause}"))
}

/// The tenant's realm representation, or 404.
pub async fn realm(state: &State, tenant: &str) -> Result<std::sync::Arc<Value>, Error> {
    lookup_realm(&state.ctx.client, &*state.ctx.cache, tenant)
        .await?
        .ok_or_else(|| Error::RealmNotFound(tenant.to_owned()))
}

/// GET of an internal resource: Some(body) on 200, None on 404.
async fn get(state: &State, service: ServiceKind, path: &str) -> Result<Option<Value>, Error> {
    let reply = state
        .ctx
        .client
        .request(Method::GET, service, path)
        .send()
        .await
        .map_err(|e| upstream(service, e))?;
    match reply.status().as_u16() {
        200 => Ok(Some(reply.json().await.map_err(|e| upstream(service, e))?)),
        404 => Ok(None),
        status => Err(upstream(service, format!("answered {status}"))),
    }
}

/// The tenant's realm roles, as Keycloak role representations.
pub async fn realm_roles(state: &State, tenant: &str) -> Result<Vec<Value>, Error> {
    let roles = get(
        state,
        ServiceKind::Tenants,
        &format!("/internal/realms/{tenant}/roles"),
    )
    .await?
    .ok_or_else(|| Error::RealmNotFound(tenant.to_owned()))?;
    match roles {
        Value::Array(list) => Ok(list),
        _ => Err(upstream(ServiceKind::Tenants, "roles are not a list")),
    }
}

/// An app of the tenant by its id: (clientId, role names).
pub async fn app_roles(
    state: &State,
    tenant: &str,
    app_id: &str,
) -> Result<Option<(String, Vec<String>)>, Error> {
    let path = format!("/internal/realms/{tenant}/apps/{}", encode(app_id));
    Ok(get(state, ServiceKind::Apps, &path).await?.map(|found| {
        let client_id = found["client"]["clientId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let roles = found["roles"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (client_id, roles)
    }))
}

/// An app of the tenant by its clientId: (app id, role names).
pub async fn app_by_client_id(
    state: &State,
    tenant: &str,
    client_id: &str,
) -> Result<Option<(String, Vec<String>)>, Error> {
    let path = format!("/internal/realms/{tenant}/clients/{}", encode(client_id));
    Ok(get(state, ServiceKind::Apps, &path).await?.map(|found| {
        let id = found["client"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let roles = found["roles"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (id, roles)
    }))
}

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Passes a 4xx of another service on with its message (a password policy violation reads
/// the same to the admin as it did to svc-login).
async fn pass_on(reply: reqwest::Response, service: ServiceKind) -> Error {
    let status = reply.status();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    if status.is_client_error() {
        let message = body["message"]
            .as_str()
            .unwrap_or("the request was refused")
            .to_owned();
        let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_REQUEST);
        // KOBIL's envelope carries upper-case codes; another service's own (such as
        // `password.policy`) becomes the code of its status.
        let code = match body["error"].as_str() {
            Some(c)
                if !c.is_empty() && c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_') =>
            {
                c.to_owned()
            }
            _ => status_code_name(status).to_owned(),
        };
        return Error::Refused(ErrorInfo::new(status, code, message));
    }
    upstream(service, format!("answered {status}"))
}

fn status_code_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::CONFLICT => "CONFLICT",
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        _ => "BAD_REQUEST",
    }
}

/// Sets a user's password in svc-login (policy and history applied there).
pub struct PasswordChange<'a> {
    pub tenant: &'a str,
    pub user_id: &'a str,
    pub value: &'a str,
    pub temporary: bool,
    pub username: &'a str,
    pub email: Option<&'a str>,
    /// "create", "change" or "reset".
    pub reason: &'a str,
}

pub async fn set_password(state: &State, change: PasswordChange<'_>) -> Result<(), Error> {
    let path = format!(
        "/internal/realms/{}/users/{}/password",
        change.tenant, change.user_id
    );
    let reply = state
        .ctx
        .client
        .request(Method::PUT, ServiceKind::Login, &path)
        .json(&json!({
            "value": change.value,
            "temporary": change.temporary,
            "username": change.username,
            "email": change.email,
            "reason": change.reason,
        }))
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Login, e))?;
    if reply.status().is_success() {
        return Ok(());
    }
    Err(pass_on(reply, ServiceKind::Login).await)
}

/// Keycloak credential metadata of a user (svc-login owns them).
pub async fn credentials(state: &State, tenant: &str, user_id: &str) -> Result<Value, Error> {
    let path = format!("/internal/realms/{tenant}/users/{user_id}/credentials");
    Ok(get(state, ServiceKind::Login, &path)
        .await?
        .unwrap_or_else(|| json!([])))
}

/// Sends a DELETE (or POST) that is done when it answers 2xx; 404 counts as done.
async fn send_done(
    state: &State,
    method: Method,
    service: ServiceKind,
    path: &str,
) -> Result<bool, Error> {
    let reply = state
        .ctx
        .client
        .request(method, service, path)
        .send()
        .await
        .map_err(|e| upstream(service, e))?;
    match reply.status().as_u16() {
        200..=299 => Ok(true),
        404 => Ok(false),
        _ => Err(pass_on(reply, service).await),
    }
}

pub async fn delete_credential(
    state: &State,
    tenant: &str,
    user_id: &str,
    credential_id: &str,
) -> Result<bool, Error> {
    let path = format!(
        "/internal/realms/{tenant}/users/{user_id}/credentials/{}",
        encode(credential_id)
    );
    send_done(state, Method::DELETE, ServiceKind::Login, &path).await
}

/// Ends every session of the user (disabled, deleted, password reset).
pub async fn end_sessions(state: &State, tenant: &str, user_id: &str) -> Result<(), Error> {
    let path = format!("/internal/realms/{tenant}/users/{user_id}/logout");
    send_done(state, Method::POST, ServiceKind::Auth, &path).await?;
    Ok(())
}

/// The user is gone: its sessions end and its credentials go.
pub async fn forget_user(state: &State, tenant: &str, user_id: &str) -> Result<(), Error> {
    end_sessions(state, tenant, user_id).await?;
    let path = format!("/internal/realms/{tenant}/users/{user_id}");
    send_done(state, Method::DELETE, ServiceKind::Login, &path).await?;
    Ok(())
}

/// svc-login's facts of a page of users, one call: user id -> `{lastLoginTimestamp,
/// lastPasswordChangeTimestamp, ..}` (users without any are absent).
pub async fn login_facts(
    state: &State,
    tenant: &str,
    user_ids: &[String],
) -> Result<serde_json::Map<String, Value>, Error> {
    if user_ids.is_empty() {
        return Ok(serde_json::Map::new());
    }
    let path = format!("/internal/realms/{tenant}/users/login-facts");
    let reply = state
        .ctx
        .client
        .request(Method::POST, ServiceKind::Login, &path)
        .json(&json!({ "userIds": user_ids }))
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Login, e))?;
    if !reply.status().is_success() {
        return Err(pass_on(reply, ServiceKind::Login).await);
    }
    match reply
        .json()
        .await
        .map_err(|e| upstream(ServiceKind::Login, e))?
    {
        Value::Object(facts) => Ok(facts),
        _ => Err(upstream(
            ServiceKind::Login,
            "login facts are not an object",
        )),
    }
}

/// Queues a templated mail with svc-tenants (never waits on SMTP).
pub async fn queue_mail(
    state: &State,
    tenant: &str,
    template: &str,
    to: &str,
    params: Value,
) -> Result<(), Error> {
    let reply = state
        .ctx
        .client
        .request(
            Method::POST,
            ServiceKind::Tenants,
            &format!("/internal/realms/{tenant}/mail"),
        )
        .json(&json!({"template": template, "to": to, "params": params}))
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Tenants, e))?;
    if reply.status().is_success() {
        return Ok(());
    }
    Err(pass_on(reply, ServiceKind::Tenants).await)
}

/// Has svc-auth mail a single-use link of its hosted pages (FORGOT_PASSWORD, VERIFY_EMAIL).
pub async fn action_mail(
    state: &State,
    tenant: &str,
    user_id: &str,
    template: &str,
) -> Result<(), Error> {
    let reply = state
        .ctx
        .client
        .request(
            Method::POST,
            ServiceKind::Auth,
            &format!("/internal/realms/{tenant}/users/{user_id}/action-mail"),
        )
        .json(&json!({"template": template}))
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Auth, e))?;
    if reply.status().is_success() {
        return Ok(());
    }
    Err(pass_on(reply, ServiceKind::Auth).await)
}
