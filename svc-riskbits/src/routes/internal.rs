//! `/internal/realms/{t}`: what other services ask of svc-riskbits (never proxied by the
//! gateway; the caller presents the service token).

use actix_web::{HttpResponse, web};
use idp_shared::error::Plain;
use idp_shared::names::check_tenant_name;
use idp_shared::security::InternalCaller;

use crate::error::Error;
use crate::{State, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/internal/realms/{realm}", web::delete().to(delete_tenant));
}

/// Tenant deletion: removes every riskbit of the tenant. Idempotent (204 when none are left).
async fn delete_tenant(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    check_tenant_name(&realm).map_err(Error::Invalid)?;
    state
        .ctx
        .db
        .run(move |conn| store::delete_all(conn, &realm))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}
