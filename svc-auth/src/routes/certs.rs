//! The JWKS: the public keys of every published key of the tenant, addressed by `kid`.

use actix_web::{HttpResponse, http::header, web};
use idp_shared::error::OAuth;
use idp_shared::names::now_millis;
use serde_json::{Value, json};

use crate::error::Error;
use crate::{State, signing, tenants};

pub async fn jwks(
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, OAuth<Error>> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let keys: Vec<Value> = signing::key_ring(&state, &tenant, now_millis())
        .await?
        .iter()
        .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(json!({ "keys": keys })))
}
