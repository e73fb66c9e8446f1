//! Keycloak's admin routes for users: `/admin/realms/{realm}/users...`.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Keycloak;
use serde_json::{Value, json};

use crate::accounts::{check_email_free, create_user, initial_password, load};
use crate::error::Error;
use crate::model::{UserInput, representation};
use crate::peers::{self, PasswordChange};
use crate::query::{ClientRoleFilter, UserQuery};
use crate::{State, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/realms/{realm}/users", web::get().to(list))
        .route("/admin/realms/{realm}/users", web::post().to(create))
        .route("/admin/realms/{realm}/users/count", web::get().to(count))
        .route("/admin/realms/{realm}/users/{id}", web::get().to(get))
        .route("/admin/realms/{realm}/users/{id}", web::put().to(update))
        .route("/admin/realms/{realm}/users/{id}", web::delete().to(delete))
        .route(
            "/admin/realms/{realm}/users/{id}/reset-password",
            web::put().to(reset_password),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/logout",
            web::post().to(logout),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/credentials",
            web::get().to(credentials),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/credentials/{credential}",
            web::delete().to(delete_credential),
        );
}

type Reply = Result<HttpResponse, Keycloak<Error>>;

/// Resolves `filterForRole` (a realm role's id or name, or a role of the client named by
/// `includeRolesForClient`) into a filter; a role that does not exist matches nobody. Returns
/// the client of `includeRolesForClient` as (app id, clientId), 404 if unknown.
async fn resolve_role_filters(
    state: &State,
    query: &mut UserQuery,
) -> Result<Option<(String, String)>, Error> {
    let client = match query.include_roles_for_client.clone() {
        Some(app_id) => {
            let (client_id, roles) =
                crate::routes::role_mappings::app(state, &query.tenant, &app_id).await?;
            Some((app_id, client_id, roles))
        }
        None => None,
    };
    if let Some(wanted) = query.role_filter.clone() {
        let realm_roles = peers::realm_roles(state, &query.tenant).await?;
        let realm_role = realm_roles.iter().find(|r| {
            r["id"].as_str() == Some(wanted.as_str()) || r["name"].as_str() == Some(wanted.as_str())
        });
        match (realm_role, &client) {
            (Some(role), _) => query.realm_role = role["name"].as_str().map(str::to_owned),
            (None, Some((app_id, _, roles))) if roles.contains(&wanted) => {
                query.client_role = Some(ClientRoleFilter {
                    app_id: app_id.clone(),
                    role: wanted,
                });
            }
            _ => query.matches_nobody = true,
        }
    }
    Ok(client.map(|(app_id, client_id, _)| (app_id, client_id)))
}

async fn list(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: web::Query<HashMap<String, String>>,
) -> Reply {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let mut query = UserQuery::parse(&tenant, &params)?;
    peers::realm(&state, &tenant).await?;
    let client = resolve_role_filters(&state, &mut query).await?;
    if query.matches_nobody {
        return Ok(HttpResponse::Ok().json(Vec::<Value>::new()));
    }
    let brief = query.brief;
    let (users, client_roles) = state
        .ctx
        .db
        .run(move |conn| {
            let users = store::list_users(conn, &query)?;
            let client_roles = match &client {
                Some((app_id, _)) => {
                    let ids: Vec<String> = users.iter().map(|u| u.row.id.clone()).collect();
                    store::client_roles_among(conn, &query.tenant, app_id, &ids)?
                }
                None => HashMap::new(),
            };
            Ok((
                users,
                client.map(|(_, client_id)| (client_id, client_roles)),
            ))
        })
        .await
        .map_err(Error::from)?;
    let reps: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut rep = representation(u, false, brief);
            // `includeRolesForClient`: the user's roles of that client, as Keycloak's
            // `clientRoles` field of a user representation.
            if let (Some((client_id, roles)), Value::Object(map)) = (&client_roles, &mut rep) {
                let held = roles.get(&u.row.id).cloned().unwrap_or_default();
                map.insert("clientRoles".into(), json!({ client_id: held }));
            }
            rep
        })
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

async fn count(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: web::Query<HashMap<String, String>>,
) -> Reply {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let mut query = UserQuery::parse(&tenant, &params)?;
    peers::realm(&state, &tenant).await?;
    resolve_role_filters(&state, &mut query).await?;
    if query.matches_nobody {
        return Ok(HttpResponse::Ok().json(0));
    }
    let n = state
        .ctx
        .db
        .run(move |conn| store::count_users(conn, &query))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(n))
}

async fn create(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<Value>,
) -> Reply {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    peers::realm(&state, &tenant).await?;
    let input = UserInput::parse(&body)?;
    let password = initial_password(&body)?;
    // Keycloak honours `groups` (paths) on create; roles in the body it ignores.
    let names = crate::kobil::string_list(&body["groups"], "groups")?;
    let grants = store::Grants {
        group_ids: crate::kobil::groups_named(&state, &tenant, names).await?,
        ..Default::default()
    };
    let user = create_user(&state, &tenant, input, grants, password).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!(
                "{}/admin/realms/{tenant}/users/{}",
                state.ctx.settings.public_url(),
                user.row.id
            ),
        ))
        .finish())
}

async fn get(caller: Caller, state: web::Data<State>, path: web::Path<(String, String)>) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let user = load(&state, &tenant, &id).await?;
    Ok(HttpResponse::Ok().json(representation(&user, false, false)))
}

async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let mut user = load(&state, &tenant, &id).await?;
    let was_enabled = user.row.enabled;
    let input = UserInput::parse(&body)?;
    input.apply(&mut user);
    check_email_free(&state, &tenant, user.row.email.as_deref(), Some(&id)).await?;
    let changed = user.clone();
    state
        .ctx
        .db
        .run(move |conn| store::update_user(conn, &changed))
        .await
        .map_err(Error::from)?;
    if was_enabled && !user.row.enabled {
        peers::end_sessions(&state, &tenant, &id).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn delete(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    peers::forget_user(&state, &tenant, &id).await?;
    let (t, i) = (tenant.clone(), id.clone());
    state
        .ctx
        .db
        .run(move |conn| store::delete_user(conn, &t, &i))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Keycloak's `{type: "password", value, temporary}`; the user's sessions end.
async fn reset_password(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = load(&state, &tenant, &id).await?;
    if body["type"].as_str().is_some_and(|t| t != "password") {
        return Err(Error::Invalid("only password credentials can be reset".into()).into());
    }
    let value = body["value"]
        .as_str()
        .ok_or_else(|| Error::Invalid("value is required".into()))?;
    peers::set_password(
        &state,
        PasswordChange {
            tenant: &tenant,
            user_id: &id,
            value,
            // Keycloak's default: an admin-set password is temporary unless said otherwise.
            temporary: body["temporary"].as_bool().unwrap_or(true),
            username: &user.row.username,
            email: user.row.email.as_deref(),
            reason: "reset",
        },
    )
    .await?;
    peers::end_sessions(&state, &tenant, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn logout(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    peers::end_sessions(&state, &tenant, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn credentials(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    Ok(HttpResponse::Ok().json(peers::credentials(&state, &tenant, &id).await?))
}

async fn delete_credential(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
) -> Reply {
    let (tenant, id, credential) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    if !peers::delete_credential(&state, &tenant, &id, &credential).await? {
        return Err(Error::NotFound("Credential not found".into()).into());
    }
    Ok(HttpResponse::NoContent().finish())
}
