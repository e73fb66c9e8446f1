//! `GET /realms/{realm}`: Keycloak's public realm info (its adapters read `public_key`).

use actix_web::{HttpResponse, web};
use idp_shared::error::OAuth;
use idp_shared::names::now_millis;
use serde_json::json;

use crate::error::Error;
use crate::{State, signing, tenants};

pub async fn realm_info(
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, OAuth<Error>> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let now = now_millis();
    let keys = signing::key_ring(&state, &tenant, now).await?;
    let public_key = signing::active_key(&keys, &tenant, now).map(|k| k.public_key_der.clone());
    let issuer = state.issuer(&tenant.name);
    Ok(HttpResponse::Ok().json(json!({
        "realm": tenant.name,
        "public_key": public_key,
        "token-service": format!("{issuer}/protocol/openid-connect"),
        "account-service": format!("{issuer}/account"),
        "tokens-not-before": tenant.not_before,
    })))
}
