//! Keycloak's attack-detection admin routes: a user's lockout status, and clearing it.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Keycloak;
use idp_shared::names::now_millis;
use serde_json::json;

use crate::error::Error;
use crate::lockout::Lockouts;
use crate::{State, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/realms/{realm}/attack-detection/brute-force/users",
        web::delete().to(clear_all),
    )
    .route(
        "/admin/realms/{realm}/attack-detection/brute-force/users/{id}",
        web::get().to(status),
    )
    .route(
        "/admin/realms/{realm}/attack-detection/brute-force/users/{id}",
        web::delete().to(clear),
    );
}

async fn status(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (tenant, user_id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let now = now_millis();
    let lockout = Lockouts {
        cache: &*state.ctx.cache,
    }
    .status(&tenant, &user_id, now)
    .await
    .map_err(Error::from)?;
    let permanently = state
        .ctx
        .db
        .run(move |conn| store::is_permanently_locked(conn, &tenant, &user_id))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(json!({
        "numFailures": lockout.failures,
        "disabled": permanently || lockout.locked_until.is_some(),
        "lastIPFailure": lockout.last_ip.unwrap_or_else(|| "n/a".into()),
        "lastFailure": lockout.last_failure.unwrap_or(0),
    })))
}

async fn clear(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (tenant, user_id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    Lockouts {
        cache: &*state.ctx.cache,
    }
    .clear(&tenant, &user_id)
    .await
    .map_err(Error::from)?;
    state
        .ctx
        .db
        .run(move |conn| store::unlock(conn, &tenant, Some(&user_id)))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn clear_all(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    Lockouts {
        cache: &*state.ctx.cache,
    }
    .clear_all(&tenant, now_millis())
    .await
    .map_err(Error::from)?;
    state
        .ctx
        .db
        .run(move |conn| store::unlock(conn, &tenant, None))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}
