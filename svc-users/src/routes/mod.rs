//! HTTP routes of svc-users, one file per resource. Health and metrics are registered by
//! `ServiceContext::configure_common`.

pub mod addresses;
pub mod group_role_mappings;
pub mod groups;
pub mod internal;
pub mod kobil_lists;
pub mod kobil_users;
pub mod mail;
pub mod role_mappings;
pub mod security_report;
pub mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    internal::configure(cfg);
    mail::configure(cfg);
    // `/users/count` before `/users/{id}`: actix matches in registration order.
    users::configure(cfg);
    role_mappings::configure(cfg);
    groups::configure(cfg);
    group_role_mappings::configure(cfg);
    // The fixed list paths (`/v3_user/count`, ..) before `/v3_user/{username}`.
    kobil_lists::configure(cfg);
    kobil_users::configure(cfg);
    addresses::configure(cfg);
    security_report::configure(cfg);
}
