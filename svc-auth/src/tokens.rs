//! Building and signing tokens. Claims follow Keycloak's, so its client libraries and the
//! services' verifier read them unchanged.

use actix_web::HttpRequest;
use josekit::jws::JwsHeader;
use josekit::jwt::{self, JwtPayload};
use serde_json::{Map, Value, json};

use crate::State;
use crate::clients::ClientInfo;
use crate::error::Error;
use crate::keys::KeyError;
use crate::signing;
use crate::tenants::TenantInfo;

/// Scopes a client may ask for.
pub const SCOPES: [&str; 7] = [
    "openid", "profile", "email", "roles", "address", "phone", "basic",
];

/// The realm roles every user and service account of a tenant has (Keycloak's defaults).
pub fn default_realm_roles(tenant: &str) -> Vec<String> {
    vec![
        format!("default-roles-{tenant}"),
        "offline_access".to_owned(),
        "uma_authorization".to_owned(),
    ]
}

/// The caller's address: the last hop the gateway appended, or the peer.
fn client_address(req: &HttpRequest) -> String {
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
        .unwrap_or_default()
}

/// The access token of a client's service account (client_credentials grant) and the reply.
pub async fn service_account_tokens(
    state: &State,
    req: &HttpRequest,
    tenant: &TenantInfo,
    client: &ClientInfo,
    scope: &str,
    now_ms: i64,
) -> Result<Value, Error> {
    let c = &client.client;
    let issued_at = now_ms / 1000;
    let lifespan = tenant.access_token_lifespan;
    let address = client_address(req);
    let claims = json!({
        "exp": issued_at.saturating_add(lifespan),
        "iat": issued_at,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iss": state.issuer(&tenant.name),
        "sub": c.id,
        "typ": "Bearer",
        "azp": c.client_id,
        "acr": "1",
        "scope": scope,
        "realm_access": { "roles": default_realm_roles(&tenant.name) },
        "email_verified": false,
        "preferred_username": format!("service-account-{}", c.client_id),
        "client_id": c.client_id,
        "clientHost": address,
        "clientAddress": address,
    });
    let access_token = sign(state, tenant, claims, now_ms).await?;
    Ok(json!({
        "access_token": access_token,
        "expires_in": lifespan,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": tenant.not_before,
        "scope": scope,
    }))
}

/// Signs claims with the tenant's key active at `now_ms`; the header names the key (`kid`).
pub async fn sign(
    state: &State,
    tenant: &TenantInfo,
    claims: Value,
    now_ms: i64,
) -> Result<String, Error> {
    let (kid, signer) = signing::active_signer(state, tenant, now_ms).await?;
    let Value::Object(map) = claims else {
        unreachable!("claims are built as a JSON object");
    };
    let payload = JwtPayload::from_map(map).map_err(KeyError::from)?;
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(kid);
    Ok(jwt::encode_with_signer(&payload, &header, &*signer).map_err(KeyError::from)?)
}

/// Claims as a map, for tests and introspection.
pub fn claims_of(payload: &JwtPayload) -> Map<String, Value> {
    payload.claims_set().clone()
}
