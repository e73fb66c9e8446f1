//! Building and signing tokens. Claims follow Keycloak's, so its client libraries and the
//! services' verifier read them unchanged.

use actix_web::HttpRequest;
use josekit::jws::JwsHeader;
use josekit::jwt::{self, JwtPayload};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::State;
use crate::clients::ClientInfo;
use crate::error::Error;
use crate::keys::KeyError;
use crate::signing;
use crate::tenants::TenantInfo;
use crate::users::UserView;

/// Scopes a client may ask for.
pub const SCOPES: [&str; 7] = [
    "openid", "profile", "email", "roles", "address", "phone", "basic",
];

/// The scope a token gets: Keycloak's defaults (`profile email`) and what was asked for, which
/// must be scopes this platform knows.
pub fn granted_scope(requested: Option<&str>) -> Result<String, Error> {
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

/// The realm roles every user and service account of a tenant has (Keycloak's defaults).
pub fn default_realm_roles(tenant: &str) -> Vec<String> {
    vec![
        format!("default-roles-{tenant}"),
        "offline_access".to_owned(),
        "uma_authorization".to_owned(),
    ]
}

/// The caller's address: the last hop the gateway appended, or the peer.
pub fn client_address(req: &HttpRequest) -> String {
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

/// Signs a refresh token with HS256 under a per-tenant key derived from the key-encryption
/// key, as Keycloak signs its refresh tokens with a realm HMAC key: a refresh token is only
/// ever read back by svc-auth (and accepted only through its stored hash), so an RSA or EC
/// signature would be work no one checks.
pub fn sign_refresh(state: &State, tenant: &TenantInfo, claims: Value) -> Result<String, Error> {
    let Value::Object(map) = claims else {
        unreachable!("claims are built as a JSON object");
    };
    let signer = state.signer_cache.refresh_signer(&tenant.name, || {
        let key = state
            .secrets
            .mac_key(&format!("refresh-token:{}", tenant.name));
        let signer = josekit::jws::HS256
            .signer_from_bytes(key)
            .map_err(KeyError::from)?;
        Ok(std::sync::Arc::new(signer) as std::sync::Arc<dyn josekit::jws::JwsSigner>)
    })?;
    let payload = JwtPayload::from_map(map).map_err(KeyError::from)?;
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    Ok(jwt::encode_with_signer(&payload, &header, &*signer).map_err(KeyError::from)?)
}

/// Claims as a map, for tests and introspection.
pub fn claims_of(payload: &JwtPayload) -> Map<String, Value> {
    payload.claims_set().clone()
}

/// What a user's tokens are issued from.
pub struct UserGrant<'a> {
    pub tenant: &'a TenantInfo,
    pub client: &'a ClientInfo,
    pub user: &'a UserView,
    pub session_id: &'a str,
    /// Milliseconds: when the session began (auth_time) and its absolute end.
    pub session_started: i64,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
}

/// A refresh token: a JWT (Keycloak's client libraries decode it) whose random `jti` makes it
/// unguessable; svc-auth accepts it only by the SHA-256 of the whole token in its table.
pub struct RefreshToken {
    pub token: String,
    pub hash: String,
    pub expires_at_ms: i64,
}

pub fn refresh_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn profile_claims(user: &UserView, claims: &mut Map<String, Value>) {
    claims.insert(
        "email_verified".into(),
        json!(user.raw["user"]["emailVerified"].as_bool().unwrap_or(false)),
    );
    claims.insert("preferred_username".into(), json!(user.username));
    let given = user.field("firstName");
    let family = user.field("lastName");
    if let Some(g) = given {
        claims.insert("given_name".into(), json!(g));
    }
    if let Some(f) = family {
        claims.insert("family_name".into(), json!(f));
    }
    let name: Vec<&str> = [given, family].into_iter().flatten().collect();
    if !name.is_empty() {
        claims.insert("name".into(), json!(name.join(" ")));
    }
    if let Some(email) = user.field("email") {
        claims.insert("email".into(), json!(email));
    }
}

/// OIDC Core §3.1.3.6: the left half of the access token's hash, base64url.
fn at_hash(algorithm: crate::keys::Algorithm, access_token: &str) -> String {
    use base64::Engine;
    let digest: Vec<u8> = match algorithm {
        crate::keys::Algorithm::EdDsa => sha2::Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The access token (and ID token for scope openid) and a new refresh token of a session.
pub async fn user_tokens(
    state: &State,
    grant: &UserGrant<'_>,
    now_ms: i64,
) -> Result<(Value, RefreshToken), Error> {
    let tenant = grant.tenant;
    let client = &grant.client.client;
    let issued_at = now_ms / 1000;
    let lifespan = tenant.access_token_lifespan;
    let issuer = state.issuer(&tenant.name);

    let mut realm_roles = grant.user.realm_roles();
    for role in default_realm_roles(&tenant.name) {
        if !realm_roles.contains(&role) {
            realm_roles.push(role);
        }
    }
    let mut resource_access = Map::new();
    for (client_id, roles) in grant.user.client_roles() {
        resource_access.insert(client_id, json!({ "roles": roles }));
    }
    let audience: Vec<&String> = resource_access.keys().collect();

    let mut access = Map::new();
    access.insert("exp".into(), json!(issued_at.saturating_add(lifespan)));
    access.insert("iat".into(), json!(issued_at));
    access.insert("auth_time".into(), json!(grant.session_started / 1000));
    access.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    access.insert("iss".into(), json!(issuer));
    if !audience.is_empty() {
        access.insert("aud".into(), json!(audience));
    }
    access.insert("sub".into(), json!(grant.user.id));
    access.insert("typ".into(), json!("Bearer"));
    access.insert("azp".into(), json!(client.client_id));
    access.insert("session_state".into(), json!(grant.session_id));
    access.insert("sid".into(), json!(grant.session_id));
    access.insert("acr".into(), json!("1"));
    access.insert("realm_access".into(), json!({ "roles": realm_roles }));
    if !resource_access.is_empty() {
        access.insert("resource_access".into(), Value::Object(resource_access));
    }
    access.insert("scope".into(), json!(grant.scope));
    profile_claims(grant.user, &mut access);
    let access_token = sign(state, tenant, Value::Object(access), now_ms).await?;

    let session_end = grant
        .session_started
        .saturating_add(tenant.session_max.saturating_mul(1000));
    let refresh_end = now_ms
        .saturating_add(tenant.session_idle.saturating_mul(1000))
        .min(session_end);
    let refresh_claims = json!({
        "exp": refresh_end / 1000,
        "iat": issued_at,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iss": issuer,
        "aud": issuer,
        "sub": grant.user.id,
        "typ": "Refresh",
        "azp": client.client_id,
        "session_state": grant.session_id,
        "sid": grant.session_id,
        "scope": grant.scope,
    });
    let refresh_token = sign_refresh(state, tenant, refresh_claims)?;

    let mut reply = Map::new();
    reply.insert("access_token".into(), json!(access_token));
    reply.insert("expires_in".into(), json!(lifespan));
    reply.insert(
        "refresh_expires_in".into(),
        json!((refresh_end - now_ms).max(0) / 1000),
    );
    reply.insert("refresh_token".into(), json!(refresh_token));
    reply.insert("token_type".into(), json!("Bearer"));
    if grant.scope.split_whitespace().any(|s| s == "openid") {
        let mut id = Map::new();
        id.insert("exp".into(), json!(issued_at.saturating_add(lifespan)));
        id.insert("iat".into(), json!(issued_at));
        id.insert("auth_time".into(), json!(grant.session_started / 1000));
        id.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        id.insert("iss".into(), json!(issuer));
        id.insert("aud".into(), json!(client.client_id));
        id.insert("sub".into(), json!(grant.user.id));
        id.insert("typ".into(), json!("ID"));
        id.insert("azp".into(), json!(client.client_id));
        if let Some(nonce) = grant.nonce {
            id.insert("nonce".into(), json!(nonce));
        }
        id.insert("session_state".into(), json!(grant.session_id));
        id.insert("sid".into(), json!(grant.session_id));
        id.insert(
            "at_hash".into(),
            json!(at_hash(tenant.algorithm, &access_token)),
        );
        id.insert("acr".into(), json!("1"));
        profile_claims(grant.user, &mut id);
        reply.insert(
            "id_token".into(),
            json!(sign(state, tenant, Value::Object(id), now_ms).await?),
        );
    }
    reply.insert("not-before-policy".into(), json!(tenant.not_before));
    reply.insert("session_state".into(), json!(grant.session_id));
    reply.insert("scope".into(), json!(grant.scope));
    let refresh = RefreshToken {
        hash: refresh_hash(&refresh_token),
        token: refresh_token,
        expires_at_ms: refresh_end,
    };
    Ok((Value::Object(reply), refresh))
}
