//! FOLIO's token API (mod-login-keycloak's `/token/...`), for real: tokens of the tenant named
//! by `X-Okapi-Tenant`, with FOLIO's lifetimes (access 10 minutes, refresh one week), backed
//! by the same sessions as every other grant. FOLIO's own module left these unimplemented.

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Folio;
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clients::{self, ClientInfo};
use crate::error::Error;
use crate::tenants::TenantInfo;
use crate::{State, sessions, tenants, users};

/// FOLIO's lifetimes: access tokens 10 minutes, refresh tokens one week.
const ACCESS_SECS: i64 = 600;
const REFRESH_SECS: i64 = 7 * 24 * 3600;
/// The legacy `/token` answer is meant never to expire; it lives a year (and ends with its
/// session, so invalidate-all still reaches it).
const LEGACY_SECS: i64 = 365 * 24 * 3600;
/// The client FOLIO tokens are issued to: Keycloak's `admin-cli`, present in every tenant.
const FOLIO_CLIENT: &str = "admin-cli";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/token/sign", web::post().to(sign))
        .route("/token/refresh", web::post().to(refresh))
        .route("/token/invalidate", web::post().to(invalidate))
        .route("/token/invalidate-all", web::post().to(invalidate_all))
        .route("/token", web::post().to(legacy_token))
        .route("/refreshtoken", web::post().to(legacy_refresh_token));
}

type Reply = Result<HttpResponse, Folio<Error>>;

/// The tenant of `X-Okapi-Tenant` (required), with FOLIO's lifetimes.
async fn okapi_tenant(
    state: &State,
    headers: &HeaderMap,
    access_secs: i64,
) -> Result<TenantInfo, Error> {
    let name = headers
        .get("x-okapi-tenant")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::InvalidRequest("X-Okapi-Tenant header is required".into()))?;
    let mut tenant = tenants::enabled_tenant(state, name).await?;
    tenant.access_token_lifespan = access_secs;
    tenant.session_idle = REFRESH_SECS.max(access_secs);
    tenant.session_max = REFRESH_SECS.max(access_secs);
    Ok(tenant)
}

async fn folio_client(
    state: &State,
    tenant: &TenantInfo,
) -> Result<std::sync::Arc<ClientInfo>, Error> {
    clients::lookup(state, &tenant.name, FOLIO_CLIENT)
        .await?
        .filter(|c| c.client.enabled)
        .ok_or_else(|| Error::Upstream(format!("tenant {} has no {FOLIO_CLIENT}", tenant.name)))
}

/// `ms` since the epoch as RFC 3339 / ISO-8601 in UTC, as FOLIO's expirations are written.
fn iso8601(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn folio_pair(reply: &Value, now: i64) -> Value {
    let access = reply["access_token"].clone();
    let expires_in = reply["expires_in"].as_i64().unwrap_or(ACCESS_SECS);
    let refresh_in = reply["refresh_expires_in"].as_i64().unwrap_or(REFRESH_SECS);
    json!({
        "token": access,
        "accessToken": access,
        "refreshToken": reply["refresh_token"],
        "accessTokenExpiration": iso8601(now + expires_in * 1000),
        "refreshTokenExpiration": iso8601(now + refresh_in * 1000),
    })
}

#[derive(Debug, Deserialize)]
struct SignBody {
    payload: Value,
}

/// The user a FOLIO payload names: `sub` is the username (FOLIO's convention), `user_id`
/// or `userId` the id.
async fn subject(
    state: &State,
    tenant: &TenantInfo,
    payload: &Value,
) -> Result<users::UserView, Error> {
    let by_id = payload["user_id"].as_str().or(payload["userId"].as_str());
    let user = match (by_id, payload["sub"].as_str()) {
        (Some(id), _) => users::by_id(state, &tenant.name, id).await?,
        (None, Some(sub)) if !sub.is_empty() => {
            users::by_username(state, &tenant.name, sub).await?
        }
        _ => return Err(Error::InvalidRequest("payload.sub is required".into())),
    };
    user.filter(|u| u.enabled)
        .ok_or_else(|| Error::InvalidGrant("no enabled user with that subject".into()))
}

/// Mints tokens for a subject: only a user administrator of the tenant may.
async fn sign(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<State>,
    body: web::Json<SignBody>,
) -> Reply {
    let tenant = okapi_tenant(&state, req.headers(), ACCESS_SECS).await?;
    caller
        .require(&tenant.name, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = subject(&state, &tenant, &body.payload).await?;
    let client = folio_client(&state, &tenant).await?;
    let now = now_millis();
    let reply = sessions::start(
        &state,
        &tenant,
        &client,
        &user,
        "profile email",
        None,
        None,
        now,
    )
    .await?;
    Ok(HttpResponse::Created().json(folio_pair(&reply, now)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: Option<String>,
}

fn refresh_token_of(body: &RefreshBody) -> Result<&str, Error> {
    body.refresh_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::InvalidRequest("refreshToken is required".into()))
}

/// A new pair for a refresh token; the old one is spent. The token is the credential.
async fn refresh(req: HttpRequest, state: web::Data<State>, body: web::Json<RefreshBody>) -> Reply {
    let tenant = okapi_tenant(&state, req.headers(), ACCESS_SECS).await?;
    let token = refresh_token_of(&body)?;
    let client = folio_client(&state, &tenant).await?;
    let now = now_millis();
    let reply = sessions::refresh(&state, &tenant, &client, token, now).await?;
    Ok(HttpResponse::Created().json(folio_pair(&reply, now)))
}

/// Ends the refresh token's session: 204 (also for a token that is already invalid).
async fn invalidate(
    req: HttpRequest,
    state: web::Data<State>,
    body: web::Json<RefreshBody>,
) -> Reply {
    let tenant = okapi_tenant(&state, req.headers(), ACCESS_SECS).await?;
    let token = refresh_token_of(&body)?;
    sessions::logout(&state, &tenant, token, None, now_millis()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the caller's user.
async fn invalidate_all(req: HttpRequest, caller: Caller, state: web::Data<State>) -> Reply {
    let tenant = okapi_tenant(&state, req.headers(), ACCESS_SECS).await?;
    if caller.principal.tenant != tenant.name {
        return Err(Error::from(idp_shared::admin::forbidden()).into());
    }
    sessions::end_sessions(
        &state,
        &tenant,
        None,
        Some(&caller.principal.subject),
        now_millis(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn deprecated(mut reply: actix_web::HttpResponseBuilder, body: Value) -> HttpResponse {
    reply
        .insert_header(("Deprecation", "true"))
        .insert_header(("Link", "</token/sign>; rel=\"successor-version\""))
        .json(body)
}

/// Legacy: a long-lived access token for a subject (administrators only). Deprecated.
async fn legacy_token(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<State>,
    body: web::Json<SignBody>,
) -> Reply {
    let tenant = okapi_tenant(&state, req.headers(), LEGACY_SECS).await?;
    caller
        .require(&tenant.name, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = subject(&state, &tenant, &body.payload).await?;
    let client = folio_client(&state, &tenant).await?;
    let reply = sessions::start(
        &state,
        &tenant,
        &client,
        &user,
        "profile email",
        None,
        None,
        now_millis(),
    )
    .await?;
    Ok(deprecated(
        HttpResponse::Created(),
        json!({ "token": reply["access_token"] }),
    ))
}

/// Legacy: a refresh token for `{userId, sub}` (administrators only). Deprecated.
async fn legacy_refresh_token(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<State>,
    body: web::Json<Value>,
) -> Reply {
    let tenant = okapi_tenant(&state, req.headers(), ACCESS_SECS).await?;
    caller
        .require(&tenant.name, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = subject(&state, &tenant, &body).await?;
    let client = folio_client(&state, &tenant).await?;
    let reply = sessions::start(
        &state,
        &tenant,
        &client,
        &user,
        "profile email",
        None,
        None,
        now_millis(),
    )
    .await?;
    Ok(deprecated(
        HttpResponse::Created(),
        json!({ "token": reply["refresh_token"] }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_are_iso_8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_398_645_000), "2026-11-23T01:50:45Z");
    }
}
