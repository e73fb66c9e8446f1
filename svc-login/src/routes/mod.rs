//! HTTP routes of svc-login, one file per resource. Health and metrics are registered by
//! `ServiceContext::configure_common`.

pub mod attack_detection;
pub mod folio_credentials;
pub mod folio_events;
pub mod folio_login;
pub mod internal;
pub mod kobil_otp;
pub mod nevis;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    internal::configure(cfg);
    kobil_otp::configure(cfg);
    attack_detection::configure(cfg);
    folio_login::configure(cfg);
    folio_credentials::configure(cfg);
    folio_events::configure(cfg);
    nevis::configure(cfg);
}
