//! The token endpoint (RFC 6749 §3.2). Client authentication by `client_secret_basic` or
//! `client_secret_post` (never both), then the grant. Replies are never cached.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idp_shared::error::OAuth;
use idp_shared::names::now_millis;
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use crate::clients::{self, ClientInfo};
use crate::error::Error;
use crate::tokens::{self, SCOPES};
use crate::{State, tenants};

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
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
    let client = authenticate_client(&req, &state, &tenant.name, &form).await?;
    let reply = match grant {
        "client_credentials" => {
            if client.client.public_client || !client.client.service_accounts_enabled {
                return Err(Error::UnauthorizedClient(
                    "client not enabled to retrieve service account".into(),
                )
                .into());
            }
            let scope = granted_scope(form.scope.as_deref())?;
            tokens::service_account_tokens(&state, &req, &tenant, &client, &scope, now_millis())
                .await?
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

/// The scope a token gets: Keycloak's defaults (`profile email`) and what was asked for, which
/// must be scopes this platform knows.
fn granted_scope(requested: Option<&str>) -> Result<String, Error> {
    let mut scope = vec!["profile", "email"];
    for s in requested.unwrap_or_default().split_whitespace() {
        if !SCOPES.contains(&s) {
            return Err(Error::InvalidScope(format!("scope {s} is not known")));
        }
        if !scope.contains(&s) {
            scope.push(s);
        }
    }
    Ok(scope.join(" "))
}

/// RFC 6749 §2.3.1: credentials in the Basic header (each part form-urlencoded) or in the
/// body, never both. A client without a secret (public) identifies itself by `client_id`.
async fn authenticate_client(
    req: &HttpRequest,
    state: &State,
    tenant: &str,
    form: &TokenForm,
) -> Result<ClientInfo, Error> {
    let basic = basic_credentials(req)?;
    let (client_id, secret) = match (basic, &form.client_secret) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidRequest(
                "use one client authentication method, not both".into(),
            ));
        }
        (Some((id, secret)), None) => {
            if form.client_id.as_deref().is_some_and(|f| f != id) {
                return Err(Error::InvalidRequest("client_id does not match".into()));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id = form
                .client_id
                .clone()
                .filter(|id| !id.is_empty())
                .ok_or_else(|| Error::InvalidClient("client authentication required".into()))?;
            (id, secret.clone())
        }
    };
    // The same answer for an unknown client, a wrong secret and a disabled client.
    let refused = || Error::InvalidClient("invalid client credentials".into());
    let client = clients::lookup(state, tenant, &client_id)
        .await?
        .filter(|c| c.client.enabled && !c.client.bearer_only)
        .ok_or_else(refused)?;
    match (client.client.public_client, secret) {
        (true, _) => Ok(client),
        (false, Some(secret)) if client.secret_matches(&secret) => Ok(client),
        _ => Err(refused()),
    }
}

fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, Error> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || Error::InvalidClient("malformed Basic credentials".into());
    let value = value.to_str().map_err(|_| malformed())?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| malformed())
    };
    Ok(Some((decode(id)?, decode(secret)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_the_defaults_plus_known_requests() {
        assert_eq!(granted_scope(None).unwrap(), "profile email");
        assert_eq!(
            granted_scope(Some("roles email")).unwrap(),
            "profile email roles"
        );
        assert!(granted_scope(Some("admin:all")).is_err());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let req = actix_web::test::TestRequest::default()
            .insert_header((
                header::AUTHORIZATION,
                format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x")),
            ))
            .to_http_request();
        assert_eq!(
            basic_credentials(&req).unwrap(),
            Some(("my app".to_owned(), "s:cret x".to_owned()))
        );
        let bad = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic !!!"))
            .to_http_request();
        assert!(basic_credentials(&bad).is_err());
        let bearer = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer x"))
            .to_http_request();
        assert_eq!(basic_credentials(&bearer).unwrap(), None);
    }
}
