//! Keycloak's role-mapping routes of a group: realm roles and client roles its members hold
//! through it (and through its subgroups' membership, see `store::group_roles`).

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Keycloak;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::routes::groups::load_group;
use crate::routes::role_mappings::{
    app, client_grants, client_role, existing_realm_roles, names_of, pick, with_composites,
};
use crate::store::ClientRoleGrant;
use crate::store::groups as group_store;
use crate::{State, peers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let base = "/admin/realms/{realm}/groups/{id}/role-mappings";
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

async fn direct_realm(state: &State, group_id: String) -> Result<Vec<String>, Error> {
    Ok(state
        .ctx
        .db
        .run(move |conn| group_store::realm_roles(conn, &group_id))
        .await?)
}

async fn direct_client(state: &State, group_id: String) -> Result<Vec<ClientRoleGrant>, Error> {
    Ok(state
        .ctx
        .db
        .run(move |conn| group_store::client_roles(conn, &group_id))
        .await?)
}

/// `{realmMappings, clientMappings}` as Keycloak answers it.
async fn all(caller: Caller, state: web::Data<State>, path: web::Path<(String, String)>) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load_group(&state, &tenant, &id).await?;
    let realm = direct_realm(&state, id.clone()).await?;
    let client = direct_client(&state, id).await?;
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
    load_group(&state, &tenant, &id).await?;
    let realm = direct_realm(&state, id).await?;
    let roles = peers::realm_roles(&state, &tenant).await?;
    Ok(HttpResponse::Ok().json(pick(&roles, &realm)))
}

/// The group's realm roles and every role their composites hold.
async fn realm_effective(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load_group(&state, &tenant, &id).await?;
    let realm = direct_realm(&state, id).await?;
    let roles = peers::realm_roles(&state, &tenant).await?;
    let names = with_composites(&roles, realm);
    Ok(HttpResponse::Ok().json(pick(&roles, &names)))
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
    load_group(&state, &tenant, &id).await?;
    let realm = direct_realm(&state, id).await?;
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
    load_group(&state, &tenant, &id).await?;
    let names = existing_realm_roles(&state, &tenant, &body).await?;
    state
        .ctx
        .db
        .run(move |conn| group_store::add_realm_roles(conn, &id, &names))
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
    load_group(&state, &tenant, &id).await?;
    let names = names_of(&body)?;
    state
        .ctx
        .db
        .run(move |conn| group_store::remove_realm_roles(conn, &id, &names))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
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
    load_group(&state, &tenant, &id).await?;
    app(&state, &tenant, &app_id).await?;
    let reps: Vec<Value> = direct_client(&state, id)
        .await?
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
    load_group(&state, &tenant, &id).await?;
    let grants = client_grants(&state, &tenant, &app_id, &body).await?;
    state
        .ctx
        .db
        .run(move |conn| group_store::add_client_roles(conn, &id, &grants))
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
    load_group(&state, &tenant, &id).await?;
    let names = names_of(&body)?;
    state
        .ctx
        .db
        .run(move |conn| group_store::remove_client_roles(conn, &id, &app_id, &names))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}
