//! `/internal/realms/{t}/...`: what other services need of users (never proxied by the
//! gateway; the caller presents the service token).

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, web};
use idp_shared::error::Plain;
use idp_shared::names::check_tenant_name;
use idp_shared::security::InternalCaller;
use serde_json::{Value, json};

use crate::accounts::{create_user, initial_password, load, token_view};
use crate::error::Error;
use crate::model::{UserInput, representation};
use crate::query::UserQuery;
use crate::store::{self, ClientRoleGrant};
use crate::{State, peers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/internal/realms/{realm}/users/by-username/{username}",
        web::get().to(by_username),
    )
    .route("/internal/realms/{realm}/users/{id}", web::get().to(by_id))
    .route("/internal/realms/{realm}/users", web::post().to(create))
    .route(
        "/internal/realms/{realm}/roles/{role}/users",
        web::get().to(role_members),
    )
    .route(
        "/internal/realms/{realm}/users/{id}/required-actions/{action}",
        web::delete().to(drop_required_action),
    )
    .route(
        "/internal/realms/{realm}/users/{id}/email-verified",
        web::put().to(email_verified),
    )
    .route("/internal/realms/{realm}", web::delete().to(delete_tenant));
}

/// A required action the user has done (svc-auth's hosted pages): 204, also when it was not
/// there.
async fn drop_required_action(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
) -> Reply {
    let (tenant, id, action) = path.into_inner();
    let mut user = load(&state, &tenant, &id).await?;
    let before = user.required_actions.len();
    user.required_actions
        .retain(|a| !a.eq_ignore_ascii_case(&action));
    if user.required_actions.len() != before {
        state
            .ctx
            .db
            .run(move |conn| store::update_user(conn, &user))
            .await
            .map_err(Error::from)?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The user proved the address `{email}` (a verification link): emailVerified, and
/// VERIFY_EMAIL done. 409 when the address changed since the link was sent.
async fn email_verified(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    let email = body["email"]
        .as_str()
        .ok_or_else(|| Error::Invalid("email is required".into()))?
        .trim()
        .to_lowercase();
    let mut user = load(&state, &tenant, &id).await?;
    if user.row.email.as_deref() != Some(email.as_str()) {
        return Err(Error::Conflict("the address changed since the link was sent".into()).into());
    }
    user.row.email_verified = true;
    user.required_actions.retain(|a| a != "VERIFY_EMAIL");
    state
        .ctx
        .db
        .run(move |conn| store::update_user(conn, &user))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

type Reply = Result<HttpResponse, Plain<Error>>;

/// The user (by username or email, as Keycloak's login accepts either) with its roles and
/// groups, for token claims.
async fn by_username(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    let (t, u) = (tenant.clone(), username.clone());
    let found = state
        .ctx
        .db
        .run(move |conn| match store::find_by_username(conn, &t, &u)? {
            Some(user) => Ok(Some(user)),
            None if u.contains('@') => store::find_by_email(conn, &t, &u),
            None => Ok(None),
        })
        .await
        .map_err(Error::from)?
        .ok_or(Error::UserNotFound)?;
    Ok(HttpResponse::Ok().json(token_view(&state, found).await?))
}

async fn by_id(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    let user = load(&state, &tenant, &id).await?;
    Ok(HttpResponse::Ok().json(token_view(&state, user).await?))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Creates a user with realm roles, client roles (by clientId) and optionally a password:
/// `{username, email, firstName, lastName, enabled, realmRoles, clientRoles, credentials}`
/// -> 201 `{id}`. Role names are checked first; nothing is stored if one is unknown.
async fn create(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<Value>,
) -> Reply {
    let tenant = realm.into_inner();
    peers::realm(&state, &tenant).await?;
    let input = UserInput::parse(&body)?;
    let password = initial_password(&body)?;
    let realm_roles = strings(&body["realmRoles"]);
    if !realm_roles.is_empty() {
        let known = peers::realm_roles(&state, &tenant).await?;
        if let Some(missing) = realm_roles
            .iter()
            .find(|n| !known.iter().any(|r| r["name"].as_str() == Some(n.as_str())))
        {
            return Err(Error::NotFound(format!("Role not found: {missing}")).into());
        }
    }
    let requested: BTreeMap<String, Value> = match &body["clientRoles"] {
        Value::Object(map) => map.clone().into_iter().collect(),
        Value::Null => BTreeMap::new(),
        _ => return Err(Error::Invalid("clientRoles must be an object".into()).into()),
    };
    let mut grants = Vec::new();
    for (client_id, roles) in requested {
        let (app_id, known) = peers::app_by_client_id(&state, &tenant, &client_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Client not found: {client_id}")))?;
        for role in strings(&roles) {
            if !known.contains(&role) {
                return Err(Error::NotFound(format!("Role not found: {role}")).into());
            }
            grants.push(ClientRoleGrant {
                app_id: app_id.clone(),
                client_id: client_id.clone(),
                role,
            });
        }
    }
    let grants = store::Grants {
        realm_roles,
        client_roles: grants,
        group_ids: Vec::new(),
    };
    let user = create_user(&state, &tenant, input, grants, password).await?;
    Ok(HttpResponse::Created().json(json!({"id": user.row.id})))
}

/// Brief representations of the users holding a realm role directly (`first`, `max`).
async fn role_members(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    params: web::Query<HashMap<String, String>>,
) -> Reply {
    let (tenant, role) = path.into_inner();
    let mut query = UserQuery::parse(&tenant, &params)?;
    query.realm_role = Some(role);
    query.include_service_accounts = true;
    let users = state
        .ctx
        .db
        .run(move |conn| store::list_users(conn, &query))
        .await
        .map_err(Error::from)?;
    let reps: Vec<Value> = users
        .iter()
        .map(|u| representation(u, false, true))
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

async fn delete_tenant(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Reply {
    let tenant = realm.into_inner();
    check_tenant_name(&tenant).map_err(Error::Invalid)?;
    state
        .ctx
        .db
        .run(move |conn| store::delete_tenant(conn, &tenant))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}
