//! Keycloak's client-role admin API: `/admin/realms/{realm}/clients/{id}/roles[/{role-name}]`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Keycloak;
use serde::Deserialize;

use crate::routes::lenient_bool;
use serde_json::Value;

use crate::error::Error;
use crate::input;
use crate::routes::{location, path_segment};
use crate::store::{self, RoleRow};
use crate::{State, apps, client};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{realm}/clients/{id}/roles", web::get().to(list))
        .route("/{realm}/clients/{id}/roles", web::post().to(create))
        .route("/{realm}/clients/{id}/roles/{role}", web::get().to(get))
        .route("/{realm}/clients/{id}/roles/{role}", web::put().to(update))
        .route(
            "/{realm}/clients/{id}/roles/{role}",
            web::delete().to(delete),
        );
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    search: Option<String>,
    first: Option<usize>,
    max: Option<usize>,
    #[serde(default, deserialize_with = "lenient_bool")]
    brief_representation: Option<bool>,
}

async fn list(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ViewClients)
        .map_err(Error::from)?;
    let app = apps::find(&state, &realm, &id).await?;
    let search = query.search.as_deref().map(str::to_lowercase);
    let brief = query.brief_representation.unwrap_or(true);
    let reps: Vec<Value> = app
        .roles
        .iter()
        .filter(|r| {
            search
                .as_deref()
                .is_none_or(|s| r.name.to_lowercase().contains(s))
        })
        .skip(query.first.unwrap_or(0))
        .take(query.max.unwrap_or(usize::MAX))
        .map(|r| client::role_representation(r, brief))
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

async fn create(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let role = input::parse_role(&body).map_err(Error::Invalid)?;
    let name = role
        .name
        .ok_or_else(|| Error::Invalid("name is required".into()))?;
    let app = apps::find(&state, &realm, &id).await?;
    if app.roles.iter().any(|r| r.name == name) {
        return Err(Error::RoleExists(name).into());
    }
    let row = RoleRow {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: app.row.id.clone(),
        name: name.clone(),
        description: role.description.flatten(),
        attributes: Value::Object(role.attributes.unwrap_or_default()).to_string(),
    };
    match state
        .ctx
        .db
        .run(move |conn| store::insert_role(conn, &row))
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_unique_violation() => return Err(Error::RoleExists(name).into()),
        Err(e) => return Err(Error::from(e).into()),
    }
    // Tokens carry client roles: svc-auth's copy of the client lists them.
    apps::forget_client(&state, &realm, &app.row.client_id).await?;
    let url = location(
        &state,
        &format!(
            "/admin/realms/{realm}/clients/{id}/roles/{}",
            path_segment(&name)
        ),
    );
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url))
        .finish())
}

fn role_of(app: &store::App, name: &str) -> Result<RoleRow, Error> {
    app.roles
        .iter()
        .find(|r| r.name == name)
        .cloned()
        .ok_or_else(|| Error::RoleNotFound(name.to_owned()))
}

async fn get(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id, role) = path.into_inner();
    caller
        .require(&realm, Permission::ViewClients)
        .map_err(Error::from)?;
    let app = apps::find(&state, &realm, &id).await?;
    let role = role_of(&app, &role)?;
    Ok(HttpResponse::Ok().json(client::role_representation(&role, false)))
}

/// `realm-management`'s roles are what the admin API checks: they keep their names and stay.
fn check_mutable(app: &store::App) -> Result<(), Error> {
    if app.row.client_id == client::REALM_MANAGEMENT {
        return Err(Error::Invalid(
            "realm-management's roles grant the admin API and cannot be changed".into(),
        ));
    }
    Ok(())
}

async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id, role) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let input = input::parse_role(&body).map_err(Error::Invalid)?;
    let app = apps::find(&state, &realm, &id).await?;
    let mut row = role_of(&app, &role)?;
    if let Some(name) = input.name
        && name != row.name
    {
        check_mutable(&app)?;
        if app.roles.iter().any(|r| r.name == name) {
            return Err(Error::RoleExists(name).into());
        }
        row.name = name;
    }
    if let Some(description) = input.description {
        row.description = description;
    }
    if let Some(attributes) = input.attributes {
        row.attributes = Value::Object(attributes).to_string();
    }
    let name = row.name.clone();
    match state
        .ctx
        .db
        .run(move |conn| store::update_role(conn, &row))
        .await
    {
        Ok(true) => {}
        Ok(false) => return Err(Error::RoleNotFound(role).into()),
        Err(e) if e.is_unique_violation() => return Err(Error::RoleExists(name).into()),
        Err(e) => return Err(Error::from(e).into()),
    }
    apps::forget_client(&state, &realm, &app.row.client_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id, role) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let app = apps::find(&state, &realm, &id).await?;
    let row = role_of(&app, &role)?;
    check_mutable(&app)?;
    let role_id = row.id.clone();
    if !state
        .ctx
        .db
        .run(move |conn| store::delete_role(conn, &role_id))
        .await
        .map_err(Error::from)?
    {
        return Err(Error::RoleNotFound(role).into());
    }
    apps::forget_client(&state, &realm, &app.row.client_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
