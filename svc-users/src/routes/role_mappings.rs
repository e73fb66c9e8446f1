//! Keycloak's role-mapping routes of a user: realm roles and client roles granted directly.
//! Role names are checked against svc-tenants (realm) and svc-apps (client) before a grant.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Keycloak;
use serde_json::{Map, Value, json};

use crate::accounts::load;
use crate::error::Error;
use crate::store::{self, ClientRoleGrant};
use crate::{State, peers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let base = "/admin/realms/{realm}/users/{id}/role-mappings";
    cfg.route(base, web::get().to(all))
        .route(&format!("{base}/realm"), web::get().to(realm_direct))
        .route(&format!("{base}/realm"), web::post().to(realm_add))
        .route(&format!("{base}/realm"), web::delete().to(realm_remove))
        .route(
            &format!("{base}/realm/composite"),
            web::get().to(realm_effective),
        )
        .route(
            &format!("{base}/realm/available"),
            web::get().to(realm_available),
        )
        .route(
            &format!("{base}/clients/{{client}}"),
            web::get().to(client_direct),
        )
        .route(
            &format!("{base}/clients/{{client}}"),
            web::post().to(client_add),
        )
        .route(
            &format!("{base}/clients/{{client}}"),
            web::delete().to(client_remove),
        );
}

type Reply = Result<HttpResponse, Keycloak<Error>>;

/// Role names from a body of Keycloak role representations (`[{id?, name}]`).
pub(crate) fn names_of(body: &Value) -> Result<Vec<String>, Error> {
    let list = body
        .as_array()
        .ok_or_else(|| Error::Invalid("the body must be a list of roles".into()))?;
    list.iter()
        .map(|r| {
            r["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| Error::Invalid("every role needs a name".into()))
        })
        .collect()
}

pub(crate) fn pick<'a>(roles: &'a [Value], names: &[String]) -> Vec<&'a Value> {
    roles
        .iter()
        .filter(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| names.iter().any(|x| x == n))
        })
        .collect()
}

async fn direct(
    state: &State,
    user_id: &str,
) -> Result<(Vec<String>, Vec<ClientRoleGrant>), Error> {
    let id = user_id.to_owned();
    Ok(state
        .ctx
        .db
        .run(move |conn| {
            Ok((
                store::direct_realm_roles(conn, &id)?,
                store::direct_client_roles(conn, &id)?,
            ))
        })
        .await?)
}

pub(crate) fn client_role(name: &str, app_id: &str) -> Value {
    json!({"name": name, "composite": false, "clientRole": true, "containerId": app_id})
}

async fn all(caller: Caller, state: web::Data<State>, path: web::Path<(String, String)>) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let (realm, client) = direct(&state, &id).await?;
    let roles = peers::realm_roles(&state, &tenant).await?;
    let mut clients = Map::new();
    for grant in client {
        let entry = clients.entry(grant.client_id.clone()).or_insert_with(
            || json!({"id": grant.app_id, "client": grant.client_id, "mappings": []}),
        );
        if let Some(list) = entry["mappings"].as_array_mut() {
            list.push(client_role(&grant.role, &grant.app_id));
        }
    }
    let mut reply = Map::new();
    reply.insert("realmMappings".into(), json!(pick(&roles, &realm)));
    if !clients.is_empty() {
        reply.insert("clientMappings".into(), Value::Object(clients));
    }
    Ok(HttpResponse::Ok().json(reply))
}

async fn realm_direct(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let (realm, _) = direct(&state, &id).await?;
    let roles = peers::realm_roles(&state, &tenant).await?;
    Ok(HttpResponse::Ok().json(pick(&roles, &realm)))
}

/// Direct and group roles, and the roles their composites contain (Keycloak's composite view).
async fn realm_effective(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let user = load(&state, &tenant, &id).await?;
    let view = crate::accounts::token_view(&state, user).await?;
    let roles = peers::realm_roles(&state, &tenant).await?;
    let mut names: Vec<String> = view["realmRoles"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.push(format!("default-roles-{tenant}"));
    let names = with_composites(&roles, names);
    Ok(HttpResponse::Ok().json(pick(&roles, &names)))
}

/// The names and every realm role their composites hold, transitively.
pub(crate) fn with_composites(roles: &[Value], mut names: Vec<String>) -> Vec<String> {
    let mut i = 0;
    while i < names.len() {
        let composites: Vec<String> = roles
            .iter()
            .filter(|r| r["name"].as_str() == Some(names[i].as_str()))
            .flat_map(|r| {
                r["composites"]["realm"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        for name in composites {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        i += 1;
    }
    names
}

async fn realm_available(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let (realm, _) = direct(&state, &id).await?;
    let roles = peers::realm_roles(&state, &tenant).await?;
    let available: Vec<&Value> = roles
        .iter()
        .filter(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| !realm.iter().any(|x| x == n))
        })
        .collect();
    Ok(HttpResponse::Ok().json(available))
}

/// The named realm roles, every one of which must exist (404 naming the first that does not).
pub(crate) async fn existing_realm_roles(
    state: &State,
    tenant: &str,
    body: &Value,
) -> Result<Vec<String>, Error> {
    let names = names_of(body)?;
    let roles = peers::realm_roles(state, tenant).await?;
    for name in &names {
        if !roles
            .iter()
            .any(|r| r["name"].as_str() == Some(name.as_str()))
        {
            return Err(Error::NotFound(format!("Role not found: {name}")));
        }
    }
    Ok(names)
}

async fn realm_add(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let names = existing_realm_roles(&state, &tenant, &body).await?;
    state
        .ctx
        .db
        .run(move |conn| Ok(store::add_realm_roles(conn, &tenant, &id, &names)?))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn realm_remove(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let names = names_of(&body)?;
    state
        .ctx
        .db
        .run(move |conn| store::remove_realm_roles(conn, &id, &names))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The app (by id) and its role names, or 404.
/// The client roles a body of role representations names, each checked against the app's
/// roles (404 naming the first unknown one), as grants of that app.
pub(crate) async fn client_grants(
    state: &State,
    tenant: &str,
    app_id: &str,
    body: &Value,
) -> Result<Vec<ClientRoleGrant>, Error> {
    let (client_id, roles) = app(state, tenant, app_id).await?;
    let names = names_of(body)?;
    if let Some(missing) = names.iter().find(|n| !roles.contains(n)) {
        return Err(Error::NotFound(format!("Role not found: {missing}")));
    }
    Ok(names
        .into_iter()
        .map(|role| ClientRoleGrant {
            app_id: app_id.to_owned(),
            client_id: client_id.clone(),
            role,
        })
        .collect())
}

pub(crate) async fn app(
    state: &State,
    tenant: &str,
    app_id: &str,
) -> Result<(String, Vec<String>), Error> {
    peers::app_roles(state, tenant, app_id)
        .await?
        .ok_or_else(|| Error::NotFound("Could not find client".into()))
}

async fn client_direct(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
) -> Reply {
    let (tenant, id, app_id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    app(&state, &tenant, &app_id).await?;
    let (_, client) = direct(&state, &id).await?;
    let reps: Vec<Value> = client
        .iter()
        .filter(|g| g.app_id == app_id)
        .map(|g| client_role(&g.role, &g.app_id))
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

async fn client_add(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id, app_id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let grants = client_grants(&state, &tenant, &app_id, &body).await?;
    state
        .ctx
        .db
        .run(move |conn| Ok(store::add_client_roles(conn, &tenant, &id, &grants)?))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn client_remove(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id, app_id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let names = names_of(&body)?;
    state
        .ctx
        .db
        .run(move |conn| store::remove_client_roles(conn, &id, &app_id, &names))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}
