//! Token introspection (RFC 7662) for authenticated clients. Anything not valid here now
//! (expired, revoked, spent, of another tenant, unknown, malformed) is `{"active": false}`.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_shared::error::OAuth;
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::tenants::TenantInfo;
use crate::tokens::refresh_hash;
use crate::{State, client_auth, store, tenants};

#[derive(Debug, Deserialize)]
pub struct IntrospectForm {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The claims of a token this service issued or verified (never of an unchecked one).
pub fn payload(token: &str) -> Option<Map<String, Value>> {
    let segment = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).ok()?).ok()
}

pub async fn introspect(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: web::Form<IntrospectForm>,
) -> Result<HttpResponse, OAuth<Error>> {
    let form = form.into_inner();
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let client = client_auth::authenticate(
        &req,
        &state,
        &tenant.name,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    if client.client.public_client {
        return Err(Error::InvalidClient("public clients may not introspect tokens".into()).into());
    }
    let token = form
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::InvalidRequest("missing token".into()))?;
    let refresh_first = form.token_type_hint.as_deref() == Some("refresh_token");
    let mut found = if refresh_first {
        refresh_claims(&state, &tenant, &token).await?
    } else {
        access_claims(&state, &tenant, &token).await
    };
    if found.is_none() {
        found = if refresh_first {
            access_claims(&state, &tenant, &token).await
        } else {
            refresh_claims(&state, &tenant, &token).await?
        };
    }
    let reply = match found {
        Some(mut claims) => {
            claims.insert("active".into(), json!(true));
            if let Some(azp) = claims.get("azp").cloned() {
                claims.insert("client_id".into(), azp);
            }
            if let Some(name) = claims.get("preferred_username").cloned() {
                claims.insert("username".into(), name);
            }
            let kind = claims.get("typ").cloned().unwrap_or(Value::Null);
            claims.insert("token_type".into(), kind);
            Value::Object(claims)
        }
        None => json!({ "active": false }),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(reply))
}

/// An access token valid now in this tenant: signature, expiry, revocation.
async fn access_claims(
    state: &State,
    tenant: &TenantInfo,
    token: &str,
) -> Option<Map<String, Value>> {
    state
        .ctx
        .verifier
        .verify(token, &[tenant.name.as_str()], now_millis() / 1000)
        .await
        .ok()?;
    payload(token)
}

/// A refresh token of this tenant, unspent, unexpired, of a live session.
async fn refresh_claims(
    state: &State,
    tenant: &TenantInfo,
    token: &str,
) -> Result<Option<Map<String, Value>>, Error> {
    if token.len() > 16 * 1024 {
        return Ok(None);
    }
    let hash = refresh_hash(token);
    let found = state
        .ctx
        .db
        .run(move |conn| store::find_refresh(conn, &hash))
        .await?;
    let now = now_millis();
    Ok(found
        .filter(|(row, session)| {
            session.tenant == tenant.name
                && session.revoked_at.is_none()
                && row.spent_at.is_none()
                && row.expires_at > now
        })
        .and_then(|_| payload(token)))
}
