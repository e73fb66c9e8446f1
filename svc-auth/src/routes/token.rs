//! The token endpoint (RFC 6749 §3.2). Client authentication by `client_secret_basic` or
//! `client_secret_post` (never both), then the grant. Replies are never cached.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use idp_shared::error::OAuth;
use idp_shared::names::now_millis;
use serde::Deserialize;

use crate::clients::ClientInfo;
use crate::error::Error;
use crate::tenants::TenantInfo;
use crate::tokens;
use crate::{State, client_auth, codes, sessions, tenants, users};

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
    /// The current one-time code, for users with an OTP credential (Keycloak's `totp`).
    totp: Option<String>,
    refresh_token: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

pub async fn token(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, OAuth<Error>> {
    let form = form.into_inner();
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let grant = form
        .grant_type
        .as_deref()
        .filter(|g| !g.is_empty())
        .ok_or_else(|| Error::InvalidRequest("missing grant_type".into()))?;
    let client = client_auth::authenticate(
        &req,
        &state,
        &tenant.name,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    let reply = match grant {
        "client_credentials" => {
            if client.client.public_client || !client.client.service_accounts_enabled {
                return Err(Error::UnauthorizedClient(
                    "client not enabled to retrieve service account".into(),
                )
                .into());
            }
            let scope = tokens::granted_scope(form.scope.as_deref())?;
            tokens::service_account_tokens(&state, &req, &tenant, &client, &scope, now_millis())
                .await?
        }
        "authorization_code" => {
            if !client.client.standard_flow_enabled {
                return Err(Error::UnauthorizedClient(
                    "Client not allowed for the authorization code flow".into(),
                )
                .into());
            }
            let code = form
                .code
                .as_deref()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| Error::InvalidRequest("missing code".into()))?;
            codes::redeem(
                &state,
                &tenant,
                &client,
                code,
                form.redirect_uri.as_deref(),
                form.code_verifier.as_deref(),
                now_millis(),
            )
            .await?
        }
        "password" => password_grant(&req, &state, &tenant, &client, &form).await?,
        "refresh_token" => {
            let token = form
                .refresh_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| Error::InvalidRequest("missing refresh_token".into()))?;
            sessions::refresh(&state, &tenant, &client, token, now_millis()).await?
        }
        other => {
            return Err(Error::UnsupportedGrantType(format!(
                "grant type {other} is not supported"
            ))
            .into());
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(reply))
}

/// Resource Owner Password Credentials (RFC 6749 §4.3), as Keycloak's "direct access grants":
/// one answer for an unknown user, a wrong password and a locked account.
async fn password_grant(
    req: &HttpRequest,
    state: &State,
    tenant: &TenantInfo,
    client: &ClientInfo,
    form: &TokenForm,
) -> Result<serde_json::Value, Error> {
    if !client.client.direct_access_grants_enabled {
        return Err(Error::UnauthorizedClient(
            "Client not allowed for direct access grants".into(),
        ));
    }
    let username = form
        .username
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Error::InvalidRequest("missing username".into()))?;
    let password = form
        .password
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::InvalidRequest("missing password".into()))?;
    let scope = tokens::granted_scope(form.scope.as_deref())?;
    let user = users::by_username(state, &tenant.name, username).await?;
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let verdict = users::verify_password(
        state,
        &tenant.name,
        user.as_ref().map(|u| u.id.as_str()),
        password,
        form.totp.as_deref(),
        &tokens::client_address(req),
        user_agent,
    )
    .await?;
    let (Some(user), Some(temporary)) = (user, verdict) else {
        return Err(Error::InvalidGrant("Invalid user credentials".into()));
    };
    // Only a caller who knows the password learns that the account cannot be used.
    if !user.enabled {
        return Err(Error::InvalidGrant("Account disabled".into()));
    }
    if temporary || !user.required_actions.is_empty() {
        return Err(Error::InvalidGrant("Account is not fully set up".into()));
    }
    sessions::start(
        state,
        tenant,
        client,
        &user,
        &scope,
        None,
        None,
        now_millis(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_the_defaults_plus_known_requests() {
        assert_eq!(tokens::granted_scope(None).unwrap(), "profile email");
        assert_eq!(
            tokens::granted_scope(Some("roles email")).unwrap(),
            "profile email roles"
        );
        assert!(tokens::granted_scope(Some("admin:all")).is_err());
    }
}
