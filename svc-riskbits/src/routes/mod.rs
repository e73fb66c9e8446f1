//! HTTP routes of svc-riskbits, one file per resource. Health and metrics are registered by
//! `ServiceContext::configure_common`.

pub mod internal;
pub mod riskbits;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    riskbits::configure(cfg);
    internal::configure(cfg);
}
