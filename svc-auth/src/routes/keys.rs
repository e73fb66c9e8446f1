//! The admin view of a tenant's signing keys (Keycloak's `GET /admin/realms/{realm}/keys`)
//! and the rotation trigger (`POST .../keys/rotate`, ours: Keycloak rotates by adding key
//! providers, which this platform does not have).

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Keycloak;
use idp_shared::names::now_millis;
use serde_json::{Value, json};

use crate::error::Error;
use crate::keys::Algorithm;
use crate::{State, signing, tenants};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/realms/{realm}/keys", web::get().to(list))
        .route("/admin/realms/{realm}/keys/rotate", web::post().to(rotate));
}

fn key_type(algorithm: &str) -> &'static str {
    match Algorithm::parse(algorithm) {
        Some(Algorithm::Es256) => "EC",
        Some(Algorithm::EdDsa) => "OKP",
        _ => "RSA",
    }
}

async fn list(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    caller
        .require(&tenant.name, Permission::ViewRealm)
        .map_err(Error::from)?;
    let now = now_millis();
    let ring = signing::key_ring(&state, &tenant, now).await?;
    let active = signing::active_key(&ring, &tenant, now).map(|k| k.kid.clone());
    let keys: Vec<Value> = ring
        .iter()
        .map(|k| {
            let status = if Some(&k.kid) == active.as_ref() {
                "ACTIVE"
            } else {
                "PASSIVE"
            };
            json!({
                "providerId": format!("{}-{}", tenant.name, k.algorithm),
                "providerPriority": 100,
                "kid": k.kid,
                "status": status,
                "type": key_type(&k.algorithm),
                "algorithm": k.algorithm,
                "publicKey": k.public_key_der,
                "use": "SIG",
                "validTo": k.retired_at,
            })
        })
        .collect();
    let mut active_map = serde_json::Map::new();
    if let Some(kid) = &active {
        active_map.insert(tenant.algorithm.name().into(), json!(kid));
    }
    Ok(HttpResponse::Ok().json(json!({ "active": active_map, "keys": keys })))
}

/// Publishes a new key now; it signs once clients have had time to fetch it.
async fn rotate(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    caller
        .require(&tenant.name, Permission::ManageRealm)
        .map_err(Error::from)?;
    let now = now_millis();
    let kid = signing::rotate(&state, &tenant, now, signing::PUBLISH_LEAD_MS).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "kid": kid,
        "activeFrom": now + signing::PUBLISH_LEAD_MS,
    })))
}
