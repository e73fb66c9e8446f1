//! HTTP routes of svc-tenants, one file per resource. Health and metrics are registered by
//! `ServiceContext::configure_common`.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
