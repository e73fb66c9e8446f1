//! KOBIL's user lists (subSystem 5): all users, search, search by attribute, count, admin
//! users, and the holders of a client role, of a realm role and the members of a group. Pages
//! are numbered from 1 (`offset` or `pageNumber`), `limit` long, capped at `query::MAX_PAGE`.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Kobil;
use serde_json::json;

use crate::error::Error;
use crate::kobil;
use crate::query::{
    ClientRoleFilter, DEFAULT_PAGE, KOBIL_DEFAULT_PAGE, SearchTerm, UserQuery, non_empty,
};
use crate::store::{self, groups as group_store};
use crate::{State, peers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let base = "/realms/{realm}/v3_user";
    // Before `/v3_user/{username}`: actix matches in registration order.
    cfg.route(&format!("{base}/getusers"), web::get().to(all))
        .route(&format!("{base}/getusers/"), web::get().to(all))
        .route(&format!("{base}/search"), web::get().to(search))
        .route(
            &format!("{base}/search/attribute"),
            web::get().to(by_attribute),
        )
        .route(&format!("{base}/count"), web::get().to(count))
        .route(&format!("{base}/adminusers"), web::get().to(admins))
        .route(
            "/realms/{realm}/v3_client/groups/{group}/users",
            web::get().to(group_members),
        )
        .route(
            "/realms/{realm}/v3_client/{client}/{role}/users",
            web::get().to(client_role_holders),
        )
        .route(
            "/realms/{realm}/v3_role/{role}/users",
            web::get().to(realm_role_holders),
        );
}

type Reply = Result<HttpResponse, Kobil<Error, 5>>;
type Params = web::Query<HashMap<String, String>>;

const FETCHED: &str = "Users fetched successfully";

/// Checks the caller and the tenant, and parses KOBIL's list filters.
async fn start(
    caller: &Caller,
    state: &State,
    tenant: &str,
    params: &HashMap<String, String>,
    default_size: i64,
) -> Result<(UserQuery, crate::query::KobilPage), Error> {
    caller.require(tenant, Permission::ViewUsers)?;
    let parsed = UserQuery::parse_kobil(tenant, params, default_size)?;
    peers::realm(state, tenant).await?;
    Ok(parsed)
}

/// Every user, `{userList, page}` (`email`, `firstName`, `lastName`, `pageNumber`, `limit`).
async fn all(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: Params,
) -> Reply {
    let tenant = realm.into_inner();
    let (query, page) = start(&caller, &state, &tenant, &params, KOBIL_DEFAULT_PAGE).await?;
    Ok(kobil::ok(
        FETCHED,
        Some(kobil::page(&state, query, page).await?),
    ))
}

/// `key` (required) within username, first name, last name or email.
async fn search(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: Params,
) -> Reply {
    let tenant = realm.into_inner();
    let (mut query, page) = start(&caller, &state, &tenant, &params, KOBIL_DEFAULT_PAGE).await?;
    let key = non_empty(&params, "key").ok_or_else(|| Error::Invalid("key is required".into()))?;
    query.search = Some(SearchTerm::Infix(key));
    Ok(kobil::ok(
        FETCHED,
        Some(kobil::page(&state, query, page).await?),
    ))
}

/// The users whose attribute `key` has the value `value` (both required): a list.
async fn by_attribute(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: Params,
) -> Reply {
    let tenant = realm.into_inner();
    let (mut query, _) = start(&caller, &state, &tenant, &params, DEFAULT_PAGE).await?;
    let key = non_empty(&params, "key").ok_or_else(|| Error::Invalid("key is required".into()))?;
    let value = params
        .get("value")
        .cloned()
        .ok_or_else(|| Error::Invalid("value is required".into()))?;
    query.attributes.push((key, value));
    Ok(kobil::ok(
        FETCHED,
        Some(json!(kobil::users_with_admin_flags(&state, query).await?)),
    ))
}

/// The number of users matching Keycloak's list filters (`search`, `username`, `email`, ..).
async fn count(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: Params,
) -> Reply {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let query = UserQuery::parse(&tenant, &params)?;
    peers::realm(&state, &tenant).await?;
    let n = state
        .ctx
        .db
        .run(move |conn| store::count_users(conn, &query))
        .await
        .map_err(Error::from)?;
    Ok(kobil::ok("User count fetched successfully", Some(json!(n))))
}

/// Holders of digitanium_admin, admin, realm-admin or `realm-management`'s realm-admin: a
/// list (`offset`, `limit` default 100).
async fn admins(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: Params,
) -> Reply {
    let tenant = realm.into_inner();
    let (mut query, _) = start(&caller, &state, &tenant, &params, DEFAULT_PAGE).await?;
    query.admins_only = true;
    Ok(kobil::ok(
        "Admin users fetched successfully",
        Some(json!(kobil::users_with_admin_flags(&state, query).await?)),
    ))
}

/// Holders of a client's role (the client by its clientId); 404 for an unknown client or role.
async fn client_role_holders(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
    params: Params,
) -> Reply {
    let (tenant, client_id, role) = path.into_inner();
    let (mut query, page) = start(&caller, &state, &tenant, &params, KOBIL_DEFAULT_PAGE).await?;
    let (app_id, roles) = peers::app_by_client_id(&state, &tenant, &client_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Client not found: {client_id}")))?;
    if !roles.contains(&role) {
        return Err(Error::NotFound(format!("Role not found: {role}")).into());
    }
    query.client_role = Some(ClientRoleFilter { app_id, role });
    Ok(kobil::ok(
        FETCHED,
        Some(kobil::page(&state, query, page).await?),
    ))
}

/// Holders of a realm role; 404 for an unknown role.
async fn realm_role_holders(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    params: Params,
) -> Reply {
    let (tenant, role) = path.into_inner();
    let (mut query, page) = start(&caller, &state, &tenant, &params, KOBIL_DEFAULT_PAGE).await?;
    let known = peers::realm_roles(&state, &tenant).await?;
    if !known
        .iter()
        .any(|r| r["name"].as_str() == Some(role.as_str()))
    {
        return Err(Error::NotFound(format!("Role not found: {role}")).into());
    }
    query.realm_role = Some(role);
    Ok(kobil::ok(
        FETCHED,
        Some(kobil::page(&state, query, page).await?),
    ))
}

/// Direct members of a group, named by id, path or name; 404 if there is none.
async fn group_members(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    params: Params,
) -> Reply {
    let (tenant, key) = path.into_inner();
    let (mut query, page) = start(&caller, &state, &tenant, &params, KOBIL_DEFAULT_PAGE).await?;
    let t = tenant.clone();
    let group = state
        .ctx
        .db
        .run(move |conn| {
            if let Some(g) = group_store::find(conn, &t, &key)? {
                return Ok(Some(g));
            }
            Ok(group_store::resolve_names(conn, &t, &[key])?.0.pop())
        })
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::NotFound("Group not found".into()))?;
    query.group_ids = Some(vec![group.id]);
    Ok(kobil::ok(
        FETCHED,
        Some(kobil::page(&state, query, page).await?),
    ))
}
