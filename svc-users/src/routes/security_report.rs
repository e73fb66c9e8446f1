//! `GET /realms/{realm}/user-security-resources/users?page&size`: the user security report
//! of the `user-security-resources` extension. `page` is an offset (default -1: from the
//! start), `size` the page length (default 100, capped at `query::MAX_PAGE`); a bare array.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Kobil;
use idp_shared::names::now_millis;
use serde_json::Value;

use crate::error::Error;
use crate::query::{DEFAULT_PAGE, MAX_PAGE, UserQuery, number};
use crate::security_report::{entry, expiry_days};
use crate::{State, peers, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/realms/{realm}/user-security-resources/users",
        web::get().to(report),
    );
}

async fn report(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Kobil<Error, 5>> {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    // A negative offset (the default -1) reads from the start.
    let first = number(&params, "page")?.unwrap_or(-1).max(0);
    let size = match number(&params, "size")? {
        None => DEFAULT_PAGE,
        Some(s) if s < 0 => return Err(Error::Invalid("size must not be negative".into()).into()),
        Some(s) => s.min(MAX_PAGE),
    };
    let realm = peers::realm(&state, &tenant).await?;
    let query = UserQuery {
        first,
        max: size,
        ..UserQuery::all(&tenant)
    };
    let users = state
        .ctx
        .db
        .run(move |conn| store::list_users(conn, &query))
        .await
        .map_err(Error::from)?;
    let ids: Vec<String> = users.iter().map(|u| u.row.id.clone()).collect();
    let facts = peers::login_facts(&state, &tenant, &ids).await?;
    let days = expiry_days(&realm);
    let now = now_millis();
    let entries: Vec<Value> = users
        .iter()
        .map(|u| entry(u, facts.get(&u.row.id), days, now))
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}
