//! `/internal/tenants/...`: what other services read of a tenant (never proxied by the gateway;
//! the caller presents the service token).

use actix_web::{HttpResponse, web};
use idp_shared::error::Plain;
use idp_shared::security::InternalCaller;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::mail::{self, MailRequest};
use crate::routes::{admin_roles, tenant};
use crate::{State, representation, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/internal/tenants", web::get().to(list))
        .route("/internal/tenants/{name}", web::get().to(get))
        .route("/internal/realms/{realm}/roles", web::get().to(roles))
        .route(
            "/internal/realms/{realm}/default-roles/{role}",
            web::put().to(default_role_member),
        )
        .route("/internal/realms/{realm}/mail", web::post().to(queue_mail));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueMail {
    template: String,
    to: String,
    #[serde(default)]
    params: Option<Value>,
}

/// Queues a mail of the tenant (svc-users' account mails, svc-auth's magic links): 202 with
/// its id at once; the sender delivers it. 400 for an unknown template, a bad address or bad
/// parameters, 404 for an unknown tenant; never an SMTP outcome.
async fn queue_mail(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<QueueMail>,
) -> Result<HttpResponse, Plain<Error>> {
    let body = body.into_inner();
    let request =
        MailRequest::new(&body.template, &body.to, body.params.as_ref()).map_err(Error::Invalid)?;
    let tenant = tenant(&state, &realm).await?;
    let id = mail::queue(&state, &tenant, request).await?;
    Ok(HttpResponse::Accepted().json(json!({"id": id})))
}

/// Every realm role of the tenant: Keycloak's representation with `composites.realm` (the
/// names a composite role holds). 404 if the tenant does not exist.
async fn roles(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let list = admin_roles::internal_list(&state, &realm).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Makes `role` (created if missing) part of the tenant's default role, so every user holds
/// it (the UMA app's `migrate`).
async fn default_role_member(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, role) = path.into_inner();
    let reply = admin_roles::ensure_default_role_member(&state, &realm, &role).await?;
    Ok(HttpResponse::Ok().json(reply))
}

/// The tenant's full realm representation: Keycloak's defaults overlaid with what it stores.
async fn get(
    _caller: InternalCaller,
    state: web::Data<State>,
    name: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let name = name.into_inner();
    let lookup = name.clone();
    let tenant = state
        .ctx
        .db
        .run(move |conn| store::find_by_name(conn, &lookup))
        .await
        .map_err(Error::from)?
        .ok_or(Error::TenantNotFound(name))?;
    Ok(HttpResponse::Ok().json(representation(&tenant)))
}

async fn list(
    _caller: InternalCaller,
    state: web::Data<State>,
) -> Result<HttpResponse, Plain<Error>> {
    let names = state.ctx.db.run(store::names).await.map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(names))
}
