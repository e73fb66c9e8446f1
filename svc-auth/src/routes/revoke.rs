//! Token revocation (RFC 7009). A refresh token ends its session; an access token is marked
//! revoked in the cache until it expires. Unknown tokens are answered 200 like known ones.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use idp_shared::bearer::revoked_token_key;
use idp_shared::error::OAuth;
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::routes::introspect::payload;
use crate::{State, client_auth, sessions, tenants};

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: web::Form<RevokeForm>,
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
    let token = form
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::InvalidRequest("missing token".into()))?;
    if let Some(hint) = form.token_type_hint.as_deref()
        && hint != "access_token"
        && hint != "refresh_token"
    {
        return Err(
            Error::UnsupportedTokenType(format!("token type {hint} cannot be revoked")).into(),
        );
    }
    let now = now_millis();
    let client_id = client.client.client_id.as_str();
    if let Some(session) = sessions::session_of(&state, &tenant, &token, None).await? {
        if session.client_id != client_id {
            return Err(
                Error::InvalidRequest("the token was issued to another client".into()).into(),
            );
        }
        sessions::end_sessions(&state, &tenant, Some(&session.id), None, now).await?;
        return Ok(HttpResponse::Ok().finish());
    }
    let verified = state
        .ctx
        .verifier
        .verify(&token, &[tenant.name.as_str()], now / 1000)
        .await;
    if let Ok(principal) = verified {
        if principal.client_id.as_deref() != Some(client_id) {
            return Err(
                Error::InvalidRequest("the token was issued to another client".into()).into(),
            );
        }
        if let Some(jti) =
            payload(&token).and_then(|c| c.get("jti").and_then(Value::as_str).map(str::to_owned))
        {
            let left = (principal.expires_at - now / 1000 + idp_shared::bearer::LEEWAY_SECS).max(1);
            state
                .ctx
                .cache
                .set(
                    &revoked_token_key(&jti),
                    b"1",
                    Duration::from_secs(left as u64),
                )
                .await
                .map_err(Error::from)?;
        }
    }
    Ok(HttpResponse::Ok().finish())
}
