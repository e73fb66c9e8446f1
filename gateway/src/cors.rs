//! CORS for frontends, answered by the gateway from the tenant's apps' `webOrigins`
//! (Keycloak's rules, evaluated by svc-apps), cached briefly and dropped by svc-apps when an
//! app changes. Listed origins get credentials; an app listing `*` opens the tenant to any
//! origin without credentials; unknown origins get nothing.

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use idp_shared::ServiceKind;
use idp_shared::cache_keys::web_origins_cache_key;
use idp_shared::http_client::{CacheTtl, LookupError};
use serde_json::Value;

use crate::State;

const TTL: CacheTtl = CacheTtl {
    found: Duration::from_secs(30),
    missing: Duration::from_secs(5),
};
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const EXPOSED_HEADERS: &str = "Location, WWW-Authenticate, Retry-After, X-Request-Id";

/// How a request's origin may use the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A listed origin: echoed, with credentials.
    Listed(HeaderValue),
    /// Any origin, no credentials (`*` in webOrigins, or a public metadata document).
    Anyone,
    Refused,
}

/// Paths any origin may read without credentials: discovery and keys.
fn open_to_all(path: &str) -> bool {
    path.contains("/.well-known/") || path.ends_with("/protocol/openid-connect/certs")
}

pub async fn grant(state: &State, tenant: &str, path: &str, origin: &HeaderValue) -> Grant {
    if open_to_all(path) {
        return Grant::Anyone;
    }
    let Ok(origin_text) = origin.to_str() else {
        return Grant::Refused;
    };
    match allowed_origins(state, tenant).await {
        Ok(list) if list.iter().any(|o| o.eq_ignore_ascii_case(origin_text)) => {
            Grant::Listed(origin.clone())
        }
        Ok(list) if list.iter().any(|o| o == "*") => Grant::Anyone,
        Ok(_) => Grant::Refused,
        Err(e) => {
            tracing::warn!(tenant = %tenant, error = %e, "allowed origins unavailable; CORS refused");
            Grant::Refused
        }
    }
}

async fn allowed_origins(state: &State, tenant: &str) -> Result<Vec<String>, LookupError> {
    if idp_shared::names::check_tenant_name(tenant).is_err() {
        return Ok(Vec::new());
    }
    let body = state
        .client
        .cached_get(
            &*state.cache,
            &web_origins_cache_key(tenant),
            ServiceKind::Apps,
            &format!("/internal/realms/{tenant}/web-origins"),
            TTL,
        )
        .await?;
    let parsed: Value = body
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    Ok(parsed["origins"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Adds the CORS headers of `grant` to a reply.
pub fn decorate(headers: &mut HeaderMap, grant: &Grant) {
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    match grant {
        Grant::Listed(origin) => {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        Grant::Anyone => {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        Grant::Refused => return,
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
}

/// The answer to a preflight: 204 with what may be sent, or 403 for an origin not allowed.
pub fn preflight(grant: &Grant, requested_headers: Option<&HeaderValue>) -> HttpResponse {
    if *grant == Grant::Refused {
        return idp_shared::error::render(
            idp_shared::error::Shape::Plain,
            &idp_shared::error::ErrorInfo::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "CORS_ORIGIN_NOT_ALLOWED",
                "this origin is not allowed for the tenant",
            ),
        );
    }
    let mut reply = HttpResponse::NoContent().finish();
    let headers = reply.headers_mut();
    decorate(headers, grant);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    if let Some(requested) = requested_headers {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    reply
}
