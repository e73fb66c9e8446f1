//! KOBIL's resend-OTP brute-force routes. One-time codes share the account's lockout with
//! passwords here (a wrong code is a failed login), so the status is that lockout, and
//! unlocking clears it, as Keycloak's attack-detection routes do.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Kobil;
use idp_shared::names::now_millis;
use serde_json::json;

use crate::error::Error;
use crate::lockout::{LockoutPolicy, Lockouts};
use crate::login::realm;
use crate::{State, peers, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/realms/{realm}/v3_user/otp-brute-force",
        web::delete().to(unlock_all),
    )
    .route(
        "/realms/{realm}/v3_user/{user_name}/otp-brute-force",
        web::get().to(status),
    )
    .route(
        "/realms/{realm}/v3_user/{user_name}/otp-brute-force",
        web::delete().to(unlock),
    );
}

type Reply = Result<HttpResponse, Kobil<Error, 5>>;

const DISABLED: &str = "Resend OTP Brute force feature is currently disabled for tenant";

fn ok(message: &str, data: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "message": message,
        "status": "OK",
        "subSystem": 5,
        "data": data,
    }))
}

/// The user's id, or the KOBIL 404.
async fn user_id(state: &State, tenant: &str, user_name: &str) -> Result<String, Error> {
    peers::user_by_username(state, tenant, user_name)
        .await?
        .map(|u| u.id)
        .ok_or(Error::UserNotFound)
}

async fn status(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, user_name) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let policy = LockoutPolicy::from_realm(&*realm(&state, &tenant).await?);
    let id = user_id(&state, &tenant, &user_name).await?;
    if !policy.enabled {
        return Ok(ok(DISABLED, serde_json::Value::Null));
    }
    let now = now_millis();
    let lockout = Lockouts {
        cache: &*state.ctx.cache,
    }
    .status(&tenant, &id, now)
    .await
    .map_err(Error::from)?;
    let (t, u) = (tenant.clone(), id.clone());
    let permanently = state
        .ctx
        .db
        .run(move |conn| store::is_permanently_locked(conn, &t, &u))
        .await
        .map_err(Error::from)?;
    Ok(ok(
        "OTP brute force status of the user",
        json!({
            "userName": user_name.to_lowercase(),
            "locked": permanently || lockout.locked_until.is_some(),
            "permanentlyLocked": permanently,
            "lockedUntil": lockout.locked_until,
            "numFailures": lockout.failures,
            "lastFailure": lockout.last_failure,
        }),
    ))
}

async fn unlock(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, user_name) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let policy = LockoutPolicy::from_realm(&*realm(&state, &tenant).await?);
    let id = user_id(&state, &tenant, &user_name).await?;
    if !policy.enabled {
        return Ok(ok(DISABLED, serde_json::Value::Null));
    }
    Lockouts {
        cache: &*state.ctx.cache,
    }
    .clear(&tenant, &id)
    .await
    .map_err(Error::from)?;
    state
        .ctx
        .db
        .run(move |conn| store::unlock(conn, &tenant, Some(&id)))
        .await
        .map_err(Error::from)?;
    Ok(ok("User unlocked", serde_json::Value::Null))
}

async fn unlock_all(caller: Caller, state: web::Data<State>, path: web::Path<String>) -> Reply {
    let tenant = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let policy = LockoutPolicy::from_realm(&*realm(&state, &tenant).await?);
    if !policy.enabled {
        return Ok(ok(DISABLED, serde_json::Value::Null));
    }
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
    Ok(ok("All users unlocked", serde_json::Value::Null))
}
