//! What svc-tenants asks of the other services, over their `/internal` routes.

use idp_shared::ServiceContext;
use idp_shared::ServiceKind;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::error::Error;

/// Drops the other services' cached copy of the tenant (`idp_shared::realms`), so a change
/// counts at once, not after the cache's 30 s.
pub async fn forget_tenant(ctx: &ServiceContext, name: &str) -> Result<(), Error> {
    ctx.cache
        .delete(&idp_shared::realms::realm_cache_key(name))
        .await?;
    Ok(())
}

fn upstream(service: ServiceKind, cause: impl ToString) -> Error {
    Error::Upstream {
        service: service.binary(),
        cause: cause.to_string(),
    }
}

async fn send(
    ctx: &ServiceContext,
    method: Method,
    service: ServiceKind,
    path: &str,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), Error> {
    let mut request = ctx.client.request(method, service, path);
    if let Some(body) = body {
        request = request.json(body);
    }
    let reply = request.send().await.map_err(|e| upstream(service, e))?;
    let status = reply.status();
    let bytes = reply.bytes().await.map_err(|e| upstream(service, e))?;
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, value))
}

/// Keycloak's default clients (`admin-cli`, `realm-management`) for a new tenant.
pub async fn ensure_default_clients(ctx: &ServiceContext, tenant: &str) -> Result<(), Error> {
    let path = format!("/internal/realms/{tenant}/default-clients");
    match send(ctx, Method::POST, ServiceKind::Apps, &path, None).await? {
        (s, _) if s.is_success() => Ok(()),
        (s, _) => Err(upstream(ServiceKind::Apps, format!("default clients: {s}"))),
    }
}

/// Every other service removes what it keeps of the tenant. A service that answers 404 has
/// no such route yet (or nothing to remove), which is not a failure.
pub async fn delete_everywhere(ctx: &ServiceContext, tenant: &str) -> Result<(), Error> {
    let path = format!("/internal/realms/{tenant}");
    for service in [
        ServiceKind::Auth,
        ServiceKind::Apps,
        ServiceKind::Users,
        ServiceKind::Login,
        ServiceKind::Riskbits,
    ] {
        match send(ctx, Method::DELETE, service, &path, None).await? {
            (s, _) if s.is_success() || s == StatusCode::NOT_FOUND => {}
            (s, _) => return Err(upstream(service, format!("tenant deletion: {s}"))),
        }
    }
    Ok(())
}

/// The answer of a service that refused a request as bad input (its message, or the status).
fn refusal(service: ServiceKind, status: StatusCode, body: &Value) -> String {
    let message = body["message"]
        .as_str()
        .or_else(|| body["errorMessage"].as_str())
        .unwrap_or("the request was refused");
    format!("{}: {message} ({})", service.binary(), status.as_u16())
}

/// An outcome of a creation step: done with a value, refused as bad input (400/409 from the
/// other service, shown to the caller), or failed (retry later).
pub enum StepError {
    Refused(String),
    Failed(String),
}

impl From<Error> for StepError {
    fn from(e: Error) -> Self {
        StepError::Failed(e.to_string())
    }
}

/// Creates the tenant's admin user in svc-users; if it exists already (a retried creation),
/// its id.
pub async fn create_admin_user(
    ctx: &ServiceContext,
    tenant: &str,
    user: &Value,
) -> Result<String, StepError> {
    let path = format!("/internal/realms/{tenant}/users");
    let (status, body) = send(ctx, Method::POST, ServiceKind::Users, &path, Some(user)).await?;
    if status.is_success()
        && let Some(id) = body["id"].as_str()
    {
        return Ok(id.to_owned());
    }
    if status == StatusCode::CONFLICT {
        let username = user["username"].as_str().unwrap_or_default();
        let path = format!(
            "/internal/realms/{tenant}/users/by-username/{}",
            utf8_percent_encode(username, NON_ALPHANUMERIC)
        );
        let (s, found) = send(ctx, Method::GET, ServiceKind::Users, &path, None).await?;
        if s.is_success()
            && let Some(id) = found["id"].as_str()
        {
            return Ok(id.to_owned());
        }
        return Err(StepError::Refused(refusal(
            ServiceKind::Users,
            status,
            &body,
        )));
    }
    if status == StatusCode::BAD_REQUEST {
        return Err(StepError::Refused(refusal(
            ServiceKind::Users,
            status,
            &body,
        )));
    }
    Err(StepError::Failed(format!("svc-users answered {status}")))
}

/// Sets a user's password through svc-login (its policy applies).
pub async fn set_password(
    ctx: &ServiceContext,
    tenant: &str,
    user_id: &str,
    password: &str,
) -> Result<(), StepError> {
    let path = format!(
        "/internal/realms/{tenant}/users/{}/password",
        utf8_percent_encode(user_id, NON_ALPHANUMERIC)
    );
    let body = json!({"value": password, "temporary": false});
    let (status, reply) = send(ctx, Method::PUT, ServiceKind::Login, &path, Some(&body)).await?;
    match status {
        s if s.is_success() => Ok(()),
        StatusCode::BAD_REQUEST => Err(StepError::Refused(refusal(
            ServiceKind::Login,
            status,
            &reply,
        ))),
        s => Err(StepError::Failed(format!("svc-login answered {s}"))),
    }
}

/// A confidential app with a new secret: created, or (a retried creation) its secret
/// renewed, since the first answer with the secret may never have reached the caller.
/// Returns the app's id and secret.
pub async fn default_app(
    ctx: &ServiceContext,
    tenant: &str,
    client: &Value,
) -> Result<(String, String), StepError> {
    let path = format!("/internal/realms/{tenant}/apps");
    let (status, body) = send(ctx, Method::POST, ServiceKind::Apps, &path, Some(client)).await?;
    let (status, body) = if status == StatusCode::CONFLICT {
        let client_id = client["clientId"].as_str().unwrap_or_default();
        let path = format!(
            "/internal/realms/{tenant}/clients/{}/secret",
            utf8_percent_encode(client_id, NON_ALPHANUMERIC)
        );
        send(ctx, Method::POST, ServiceKind::Apps, &path, None).await?
    } else {
        (status, body)
    };
    match (status, body["id"].as_str(), body["secret"].as_str()) {
        (s, Some(id), Some(secret)) if s.is_success() => Ok((id.to_owned(), secret.to_owned())),
        (StatusCode::BAD_REQUEST, ..) => Err(StepError::Refused(refusal(
            ServiceKind::Apps,
            status,
            &body,
        ))),
        (s, ..) => Err(StepError::Failed(format!("svc-apps answered {s}"))),
    }
}

/// The number of users of a tenant, if svc-users tells (`None` when it cannot).
pub async fn user_count(ctx: &ServiceContext, tenant: &str) -> Option<u64> {
    let path = format!("/internal/realms/{tenant}/users/count");
    match send(ctx, Method::GET, ServiceKind::Users, &path, None).await {
        Ok((s, body)) if s.is_success() => body["count"].as_u64().or_else(|| body.as_u64()),
        _ => None,
    }
}

/// The users holding a realm role (svc-users), in Keycloak's user representation; `query` is
/// the caller's query string (`first`, `max`, `briefRepresentation`), passed on.
pub async fn role_members(
    ctx: &ServiceContext,
    tenant: &str,
    role: &str,
    query: &str,
) -> Result<Value, Error> {
    let mut path = format!(
        "/internal/realms/{tenant}/roles/{}/users",
        utf8_percent_encode(role, NON_ALPHANUMERIC)
    );
    if !query.is_empty() {
        path.push('?');
        path.push_str(query);
    }
    match send(ctx, Method::GET, ServiceKind::Users, &path, None).await? {
        (s, body) if s.is_success() => Ok(body),
        (StatusCode::BAD_REQUEST, body) => Err(Error::Invalid(
            body["message"]
                .as_str()
                .unwrap_or("invalid query")
                .to_owned(),
        )),
        (s, _) => Err(upstream(ServiceKind::Users, format!("role members: {s}"))),
    }
}

/// The email address of user `user_id` of `tenant` (svc-users), if it has one.
pub async fn user_email(
    ctx: &ServiceContext,
    tenant: &str,
    user_id: &str,
) -> Result<Option<String>, Error> {
    let path = format!(
        "/internal/realms/{tenant}/users/{}",
        utf8_percent_encode(user_id, NON_ALPHANUMERIC)
    );
    match send(ctx, Method::GET, ServiceKind::Users, &path, None).await? {
        (s, body) if s.is_success() => Ok(body["user"]["email"]
            .as_str()
            .filter(|e| !e.is_empty())
            .map(str::to_owned)),
        (StatusCode::NOT_FOUND, _) => Ok(None),
        (s, _) => Err(upstream(ServiceKind::Users, format!("user lookup: {s}"))),
    }
}
