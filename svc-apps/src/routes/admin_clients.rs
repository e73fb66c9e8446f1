//! Keycloak's client admin API: `/admin/realms/{realm}/clients[/{id}[/client-secret]]`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Keycloak;
use serde::Deserialize;

use crate::routes::lenient_bool;
use serde_json::{Value, json};

use crate::error::Error;
use crate::routes::location;
use crate::{State, apps, client, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{realm}/clients", web::get().to(list))
        .route("/{realm}/clients", web::post().to(create))
        .route("/{realm}/clients/{id}", web::get().to(get))
        .route("/{realm}/clients/{id}", web::put().to(update))
        .route("/{realm}/clients/{id}", web::delete().to(delete))
        .route("/{realm}/clients/{id}/client-secret", web::get().to(secret))
        .route(
            "/{realm}/clients/{id}/client-secret",
            web::post().to(regenerate_secret),
        );
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    client_id: Option<String>,
    /// With `clientId`: a case-insensitive substring match instead of an exact one.
    #[serde(default, deserialize_with = "lenient_bool")]
    search: Option<bool>,
    first: Option<usize>,
    max: Option<usize>,
}

async fn list(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ViewClients)
        .map_err(Error::from)?;
    let search = query.search.unwrap_or(false);
    let exact = query.client_id.clone().filter(|_| !search);
    let r = realm.clone();
    let all = state
        .ctx
        .db
        .run(move |conn| store::list(conn, &r, exact.as_deref()))
        .await
        .map_err(Error::from)?;
    let needle = query
        .client_id
        .as_deref()
        .filter(|_| search)
        .map(str::to_lowercase);
    let reps: Vec<Value> = all
        .iter()
        .filter(|a| {
            needle
                .as_deref()
                .is_none_or(|n| a.row.client_id.to_lowercase().contains(n))
        })
        .skip(query.first.unwrap_or(0))
        .take(query.max.unwrap_or(usize::MAX))
        .map(client::representation)
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

fn object(body: web::Json<Value>) -> Result<serde_json::Map<String, Value>, Error> {
    match body.into_inner() {
        Value::Object(m) => Ok(m),
        _ => Err(Error::Invalid("the client must be a JSON object".into())),
    }
}

async fn create(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let fields = object(body)?;
    if !apps::tenant_exists(&state, &realm).await? {
        return Err(Error::TenantNotFound(realm).into());
    }
    let created = apps::create(&state, &realm, &fields).await?;
    let url = location(
        &state,
        &format!("/admin/realms/{realm}/clients/{}", created.app.row.id),
    );
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url))
        .finish())
}

async fn get(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ViewClients)
        .map_err(Error::from)?;
    let app = apps::find(&state, &realm, &id).await?;
    Ok(HttpResponse::Ok().json(client::representation(&app)))
}

async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let fields = object(body)?;
    let app = apps::find(&state, &realm, &id).await?;
    apps::update(&state, &realm, app, &fields).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let app = apps::find(&state, &realm, &id).await?;
    apps::delete(&state, &realm, &app).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Keycloak's credential representation of the secret (no `value` for a client without one).
fn credential(secret: Option<String>) -> Value {
    match secret {
        Some(value) => json!({"type": "secret", "value": value}),
        None => json!({"type": "secret"}),
    }
}

async fn secret(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ViewClients)
        .map_err(Error::from)?;
    let app = apps::find(&state, &realm, &id).await?;
    let secret = apps::secret_of(&state, &app)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(credential(secret)))
}

async fn regenerate_secret(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let app = apps::find(&state, &realm, &id).await?;
    let secret = apps::regenerate_secret(&state, &realm, &app).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(credential(Some(secret))))
}
