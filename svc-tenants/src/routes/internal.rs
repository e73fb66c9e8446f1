//! `/internal/tenants/...`: what other services read of a tenant (never proxied by the gateway;
//! the caller presents the service token).

use actix_web::{HttpResponse, web};
use idp_shared::error::Plain;
use idp_shared::security::InternalCaller;

use crate::error::Error;
use crate::{State, representation, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/internal/tenants", web::get().to(list))
        .route("/internal/tenants/{name}", web::get().to(get));
}

/// The tenant's full realm representation: Keycloak's defaults overlaid with what it stores.
async fn get(
    _caller: InternalCaller,
    state: web::Data<State>,
    name: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let name = name.into_inner();
    let lookup = name.clone();
    let tenant = state
        .ctx
        .db
        .run(move |conn| store::find_by_name(conn, &lookup))
        .await
        .map_err(Error::from)?
        .ok_or(Error::TenantNotFound(name))?;
    Ok(HttpResponse::Ok().json(representation(&tenant)))
}

async fn list(
    _caller: InternalCaller,
    state: web::Data<State>,
) -> Result<HttpResponse, Plain<Error>> {
    let names = state.ctx.db.run(store::names).await.map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(names))
}
