//! HTTP routes of svc-auth, one file per resource. Health and metrics are registered by
//! `ServiceContext::configure_common`.

pub mod certs;
pub mod discovery;
pub mod realm_info;
pub mod token;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/realms/{realm}/.well-known/openid-configuration",
        web::get().to(discovery::openid_configuration),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/certs",
        web::get().to(certs::jwks),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/token",
        web::post().to(token::token),
    )
    .route("/realms/{realm}", web::get().to(realm_info::realm_info));
}
