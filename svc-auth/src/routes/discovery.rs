//! `/.well-known/openid-configuration`: what a client library reads first. It lists what the
//! platform implements and nothing it does not (no implicit flow, no `plain` PKCE, no HMAC or
//! `none` signatures); each endpoint joins the list when it is built. `authorization_endpoint`
//! is listed because OpenID Connect Discovery requires it.

use actix_web::{HttpResponse, web};
use idp_shared::error::OAuth;
use serde_json::json;

use crate::error::Error;
use crate::keys::Algorithm;
use crate::{State, tenants};

pub async fn openid_configuration(
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, OAuth<Error>> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let issuer = state.issuer(&tenant.name);
    let oidc = format!("{issuer}/protocol/openid-connect");
    let algorithms: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    let client_auth = ["client_secret_basic", "client_secret_post"];
    Ok(HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{oidc}/auth"),
        "token_endpoint": format!("{oidc}/token"),
        "jwks_uri": format!("{oidc}/certs"),
        "userinfo_endpoint": format!("{oidc}/userinfo"),
        "introspection_endpoint": format!("{oidc}/token/introspect"),
        "revocation_endpoint": format!("{oidc}/revoke"),
        "end_session_endpoint": format!("{oidc}/logout"),
        "grant_types_supported": [
            "authorization_code", "password", "client_credentials", "refresh_token"
        ],
        "response_types_supported": ["code"],
        "response_modes_supported": crate::authorize::ResponseMode::SUPPORTED,
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "token_endpoint_auth_methods_supported": client_auth,
        "token_endpoint_auth_signing_alg_values_supported": [],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": crate::tokens::SCOPES,
        "claims_supported": [
            "aud", "sub", "iss", "auth_time", "name", "given_name", "family_name",
            "preferred_username", "email", "email_verified", "acr", "azp", "sid"
        ],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "tls_client_certificate_bound_access_tokens": false,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })))
}
