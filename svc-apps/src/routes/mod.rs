//! HTTP routes of svc-apps, one file per resource. Health and metrics are registered by
//! `ServiceContext::configure_common`.

pub mod internal;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    internal::configure(cfg);
}
