//! HTTP routes of svc-tenants, one file per resource. Health and metrics are registered by
//! `ServiceContext::configure_common`.

pub mod admin_realms;
pub mod admin_roles;
pub mod internal;
pub mod kobil_roles;
pub mod kobil_settings;
pub mod kobil_tenants;
pub mod mail;

use actix_web::web;
use idp_shared::admin::ErrorShape;
use idp_shared::error::{Shape, extractor_configs};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::State;
use crate::error::Error;
use crate::store::{self, Tenant};

pub fn configure(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    internal::configure(cfg);
    // Keycloak's admin API answers errors in Keycloak's shape, extractors included.
    cfg.service(
        web::scope("/admin/realms")
            .app_data(web::Data::new(ErrorShape(Shape::Keycloak)))
            .configure(|cfg| {
                extractor_configs(Shape::Keycloak, max_body_bytes).register(cfg);
                admin_realms::configure(cfg);
                admin_roles::configure(cfg);
            }),
    );
    kobil_tenants::configure(cfg);
    kobil_settings::configure(cfg);
    kobil_roles::configure(cfg);
    mail::configure(cfg, max_body_bytes);
}

/// The tenant named in the path, or 404.
pub async fn tenant(state: &State, name: &str) -> Result<Tenant, Error> {
    let lookup = name.to_owned();
    state
        .ctx
        .db
        .run(move |conn| store::find_by_name(conn, &lookup))
        .await?
        .ok_or_else(|| Error::TenantNotFound(name.to_owned()))
}

/// Characters escaped in a path segment of a `Location` header.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

pub fn path_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The public URL of an admin resource, for `Location` headers (Keycloak's are absolute).
pub fn location(state: &State, path: &str) -> String {
    format!("{}{path}", state.ctx.settings.public_url())
}

/// A boolean query parameter as Keycloak reads it: `true`/`false` in any case (Python
/// clients send `True`).
pub fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::Deserialize;
    use serde::de::Error as _;
    let s: Option<String> = Option::deserialize(d)?;
    match s.map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(D::Error::custom(format!(
            "expected true or false, not {other:?}"
        ))),
    }
}

/// KOBIL's success envelope (subSystem 1: tenants and roles); `data` only when there is some.
pub fn kobil_ok(message: &str, data: Option<serde_json::Value>) -> actix_web::HttpResponse {
    let mut body = serde_json::json!({"message": message, "status": "OK", "subSystem": 1});
    if let Some(data) = data {
        body["data"] = data;
    }
    actix_web::HttpResponse::Ok().json(body)
}
