//! Client authentication (RFC 6749 §2.3.1) for the token, introspection, revocation and
//! logout endpoints: `client_secret_basic` or `client_secret_post`, never both; a public
//! client identifies itself by `client_id` alone.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use crate::State;
use crate::clients::{self, ClientInfo};
use crate::error::Error;

/// RFC 6749 §2.3.1: credentials in the Basic header (each part form-urlencoded) or in the
/// body, never both. A client without a secret (public) identifies itself by `client_id`.
pub async fn authenticate(
    req: &HttpRequest,
    state: &State,
    tenant: &str,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Arc<ClientInfo>, Error> {
    let basic = basic_credentials(req)?;
    let (client_id, secret) = match (basic, form_secret.map(str::to_owned)) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidRequest(
                "use one client authentication method, not both".into(),
            ));
        }
        (Some((id, secret)), None) => {
            if form_client_id.is_some_and(|f| f != id) {
                return Err(Error::InvalidRequest("client_id does not match".into()));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id = form_client_id
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| Error::InvalidClient("client authentication required".into()))?;
            (id, secret)
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
