//! keycloak-js's third-party-cookie check (`3p-cookies/step1.html`, loaded in a hidden
//! iframe by `init`). This platform offers no session-status iframe, so the page answers
//! "unsupported" at once: keycloak-js then turns its login iframe off and checks sessions with
//! redirects (`prompt=none`), instead of waiting out its timeout and failing `init`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::pages::{self, Allow, PageError};
use crate::{State, tenants};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/realms/{realm}/protocol/openid-connect/3p-cookies/step1.html",
        web::get().to(third_party_cookies),
    );
}

#[derive(Template)]
#[template(path = "third_party_cookies.html")]
struct ThirdPartyCookiesPage<'a> {
    nonce: &'a str,
}

async fn third_party_cookies(
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    tenants::enabled_tenant(&state, &realm).await?;
    let nonce = pages::nonce();
    let allow = Allow {
        script: true,
        // Any app's page may load it; it tells nothing but "unsupported".
        frame_ancestors: Some("*"),
        ..Allow::default()
    };
    Ok(pages::render(
        &ThirdPartyCookiesPage { nonce: &nonce },
        StatusCode::OK,
        &nonce,
        &allow,
    ))
}
