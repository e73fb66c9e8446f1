//! `/internal/realms/{t}/...`: what other services need of apps (never proxied by the gateway;
//! the caller presents the service token).

use actix_web::{HttpResponse, web};
use idp_shared::error::Plain;
use idp_shared::names::{check_tenant_name, now_millis};
use idp_shared::security::InternalCaller;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::{State, client, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/internal/realms/{realm}/default-clients",
        web::post().to(ensure_default_clients),
    )
    .route(
        "/internal/realms/{realm}/clients/{client_id}",
        web::get().to(client_for_token_endpoint),
    );
}

/// A client as the token endpoint needs it: the representation, its role names, and only a
/// SHA-256 of its secret, so svc-auth can check a presented secret in constant time without
/// ever holding it.
async fn client_for_token_endpoint(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, client_id) = path.into_inner();
    let (r, c) = (realm.clone(), client_id.clone());
    let app = state
        .ctx
        .db
        .run(move |conn| store::find_by_client_id(conn, &r, &c))
        .await
        .map_err(Error::from)?
        .ok_or(Error::AppNotFound(client_id))?;
    let secret_sha256 = match &app.row.secret_sealed {
        Some(sealed) => {
            let secret = state
                .secrets
                .open(sealed, &crate::secret_context(&app.row.id))
                .map_err(Error::from)?;
            Some(hex::encode(Sha256::digest(&secret)))
        }
        None => None,
    };
    let roles: Vec<&str> = app.roles.iter().map(|r| r.name.as_str()).collect();
    Ok(HttpResponse::Ok().json(json!({
        "client": client::representation(&app),
        "roles": roles,
        "secretSha256": secret_sha256,
    })))
}

/// Creates the default clients a tenant lacks; the answer lists the tenant's client ids.
async fn ensure_default_clients(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    check_tenant_name(&realm).map_err(Error::Invalid)?;
    let ids = crate::ensure_default_clients(&state, &realm, now_millis()).await?;
    Ok(HttpResponse::Ok().json(ids))
}
