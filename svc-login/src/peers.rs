//! What svc-login asks of svc-users (who a user is) and of svc-auth (sessions and tokens for
//! FOLIO's login API), over their `/internal` routes.

use actix_web::http::StatusCode;
use idp_shared::ServiceKind;
use idp_shared::error::ErrorInfo;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::State;
use crate::error::Error;

/// A user as svc-login needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub enabled: bool,
    pub required_actions: Vec<String>,
}

impl UserInfo {
    fn from_reply(raw: &Value) -> Option<UserInfo> {
        let user = &raw["user"];
        Some(UserInfo {
            id: user["id"].as_str()?.to_owned(),
            username: user["username"].as_str()?.to_owned(),
            email: user["email"].as_str().map(str::to_owned),
            enabled: user["enabled"].as_bool().unwrap_or(false),
            required_actions: user["requiredActions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

fn upstream(service: ServiceKind, cause: impl std::fmt::Display) -> Error {
    Error::Upstream(format!("{service}: {cause}"))
}

/// A 4xx of another service, passed on with its status and message; anything else is the
/// other service's fault.
async fn pass_on(reply: reqwest::Response, service: ServiceKind) -> Error {
    let status = reply.status();
    if !status.is_client_error() {
        return upstream(service, format!("answered {status}"));
    }
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    let code = body["error"].as_str().unwrap_or("BAD_REQUEST").to_owned();
    let message = body["message"]
        .as_str()
        .unwrap_or("the request was refused")
        .to_owned();
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_REQUEST);
    Error::Refused(ErrorInfo::new(status, code, message))
}

async fn get_user(state: &State, path: &str) -> Result<Option<UserInfo>, Error> {
    let reply = state
        .ctx
        .client
        .request(Method::GET, ServiceKind::Users, path)
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Users, e))?;
    match reply.status().as_u16() {
        200 => {
            let raw: Value = reply
                .json()
                .await
                .map_err(|e| upstream(ServiceKind::Users, e))?;
            UserInfo::from_reply(&raw)
                .map(Some)
                .ok_or_else(|| upstream(ServiceKind::Users, "sent an unexpected user"))
        }
        404 => Ok(None),
        status => Err(upstream(ServiceKind::Users, format!("answered {status}"))),
    }
}

/// The user with this username (or email), case-insensitively, if any.
pub async fn user_by_username(
    state: &State,
    tenant: &str,
    username: &str,
) -> Result<Option<UserInfo>, Error> {
    if username.is_empty() || username.len() > 255 {
        return Ok(None);
    }
    let path = format!(
        "/internal/realms/{tenant}/users/by-username/{}",
        encode(&username.to_lowercase())
    );
    get_user(state, &path).await
}

pub async fn user_by_id(state: &State, tenant: &str, id: &str) -> Result<Option<UserInfo>, Error> {
    if id.is_empty() || id.len() > 255 {
        return Ok(None);
    }
    let path = format!("/internal/realms/{tenant}/users/{}", encode(id));
    get_user(state, &path).await
}

/// Tokens for a user whose password svc-login has just checked: the OAuth token reply.
pub async fn start_session(state: &State, tenant: &str, user_id: &str) -> Result<Value, Error> {
    let path = format!(
        "/internal/realms/{tenant}/users/{}/sessions",
        encode(user_id)
    );
    let reply = state
        .ctx
        .client
        .request(Method::POST, ServiceKind::Auth, &path)
        .json(&json!({}))
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Auth, e))?;
    if !reply.status().is_success() {
        return Err(pass_on(reply, ServiceKind::Auth).await);
    }
    reply
        .json()
        .await
        .map_err(|e| upstream(ServiceKind::Auth, e))
}

/// The rotated token reply, or None when svc-auth refuses the refresh token.
pub async fn refresh_session(
    state: &State,
    tenant: &str,
    refresh_token: &str,
) -> Result<Option<Value>, Error> {
    let path = format!("/internal/realms/{tenant}/sessions/refresh");
    let reply = state
        .ctx
        .client
        .request(Method::POST, ServiceKind::Auth, &path)
        .json(&json!({ "refreshToken": refresh_token }))
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Auth, e))?;
    match reply.status().as_u16() {
        200 => Ok(Some(
            reply
                .json()
                .await
                .map_err(|e| upstream(ServiceKind::Auth, e))?,
        )),
        // invalid_grant (spent, expired, unknown) and a disabled realm alike: no new tokens.
        400 | 403 | 404 => Ok(None),
        _ => Err(pass_on(reply, ServiceKind::Auth).await),
    }
}

fn ended(reply: &Value) -> u64 {
    reply["ended"].as_u64().unwrap_or(0)
}

/// Ends the session of a refresh token; how many ended (0 for an unknown token).
pub async fn end_session(state: &State, tenant: &str, refresh_token: &str) -> Result<u64, Error> {
    let path = format!("/internal/realms/{tenant}/sessions/logout");
    let reply = state
        .ctx
        .client
        .request(Method::POST, ServiceKind::Auth, &path)
        .json(&json!({ "refreshToken": refresh_token }))
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Auth, e))?;
    if !reply.status().is_success() {
        return Err(pass_on(reply, ServiceKind::Auth).await);
    }
    let body: Value = reply
        .json()
        .await
        .map_err(|e| upstream(ServiceKind::Auth, e))?;
    Ok(ended(&body))
}

/// Ends every session of a user; how many ended.
pub async fn end_user_sessions(state: &State, tenant: &str, user_id: &str) -> Result<u64, Error> {
    let path = format!("/internal/realms/{tenant}/users/{}/logout", encode(user_id));
    let reply = state
        .ctx
        .client
        .request(Method::POST, ServiceKind::Auth, &path)
        .send()
        .await
        .map_err(|e| upstream(ServiceKind::Auth, e))?;
    if !reply.status().is_success() {
        return Err(pass_on(reply, ServiceKind::Auth).await);
    }
    let body: Value = reply
        .json()
        .await
        .map_err(|e| upstream(ServiceKind::Auth, e))?;
    Ok(ended(&body))
}
