//! HTTP routes of svc-auth, one file per resource. Health and metrics are registered by
//! `ServiceContext::configure_common`.

pub mod authorize;
pub mod certs;
pub mod discovery;
pub mod folio;
pub mod internal;
pub mod introspect;
pub mod keys;
pub mod login_actions;
pub mod logout;
pub mod magic_link;
pub mod realm_info;
pub mod revoke;
pub mod session_status;
pub mod token;
pub mod userinfo;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The OIDC endpoints first: actix tries routes in order (a regex each), and these carry
    // nearly all of the traffic. No other route's pattern matches their paths.
    cfg.route(
        "/realms/{realm}/protocol/openid-connect/token",
        web::post().to(token::token),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/token/introspect",
        web::post().to(introspect::introspect),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/userinfo",
        web::get().to(userinfo::get),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/userinfo",
        web::post().to(userinfo::post),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/certs",
        web::get().to(certs::jwks),
    )
    .route(
        "/realms/{realm}/.well-known/openid-configuration",
        web::get().to(discovery::openid_configuration),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/revoke",
        web::post().to(revoke::revoke),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/logout",
        web::get().to(logout::get),
    )
    .route(
        "/realms/{realm}/protocol/openid-connect/logout",
        web::post().to(logout::post),
    )
    .route("/realms/{realm}", web::get().to(realm_info::realm_info));
    internal::configure(cfg);
    keys::configure(cfg);
    folio::configure(cfg);
    authorize::configure(cfg);
    login_actions::configure(cfg);
    session_status::configure(cfg);
    magic_link::configure(cfg);
}
