//! KOBIL's app routes (subSystem 2): `/realms/{realm}/v3_client[/{appName}]`, the secret
//! (`/v3_client/secret/{appName}`) and the UMA app (`/v3_client/uma`). An app is a client;
//! KOBIL names some fields differently (`appName` = `clientId`, `publicApp` = `publicClient`,
//! `appAuthenticatorType` = `clientAuthenticatorType`).

use actix_web::{HttpResponse, web};
use idp_shared::ServiceKind;
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Kobil;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::client::{ADMIN_CLI, REALM_MANAGEMENT};
use crate::error::Error;
use crate::routes::lenient_bool;
use crate::store::{self, App};
use crate::{State, apps, client};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/realms/{realm}/v3_client", web::get().to(list))
        .route("/realms/{realm}/v3_client", web::post().to(create))
        .route(
            "/realms/{realm}/v3_client",
            web::put().to(update_named_in_body),
        )
        .route("/realms/{realm}/v3_client/uma", web::post().to(uma))
        .route(
            "/realms/{realm}/v3_client/secret/{app}",
            web::get().to(secret),
        )
        .route(
            "/realms/{realm}/v3_client/secret/{app}",
            web::post().to(regenerate),
        )
        .route("/realms/{realm}/v3_client/{app}", web::get().to(get))
        .route("/realms/{realm}/v3_client/{app}", web::put().to(update))
        .route("/realms/{realm}/v3_client/{app}", web::delete().to(delete));
}

/// KOBIL's names for client fields: (KOBIL, Keycloak).
const RENAMED: [(&str, &str); 3] = [
    ("appName", "clientId"),
    ("publicApp", "publicClient"),
    ("appAuthenticatorType", "clientAuthenticatorType"),
];

/// The client id of the UMA app.
pub const UMA_APP: &str = "uma-app";

fn kobil_ok(message: &str, data: Option<Value>) -> HttpResponse {
    let mut body = json!({"message": message, "status": "OK", "subSystem": 2});
    if let Some(data) = data {
        body["data"] = data;
    }
    HttpResponse::Ok().json(body)
}

/// An app in KOBIL's names.
fn kobil_representation(app: &App) -> Value {
    let mut rep = match client::representation(app) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (kobil, keycloak) in RENAMED {
        if let Some(v) = rep.remove(keycloak) {
            rep.insert(kobil.to_owned(), v);
        }
    }
    rep.entry("defaultRoles").or_insert_with(|| json!([]));
    rep.entry("registeredNodes").or_insert_with(|| json!({}));
    Value::Object(rep)
}

/// A KOBIL app body as a Keycloak client representation: renamed fields, `redirectUris` and
/// `webOrigins` as a string or a list, `defaultRoles` as a string or a list.
fn keycloak_fields(body: Value) -> Result<Map<String, Value>, Error> {
    let Value::Object(mut fields) = body else {
        return Err(Error::Invalid("the app must be a JSON object".into()));
    };
    for (kobil, keycloak) in RENAMED {
        if let Some(v) = fields.remove(kobil) {
            fields.insert(keycloak.to_owned(), v);
        }
    }
    for key in ["redirectUris", "webOrigins", "defaultRoles"] {
        if let Some(Value::String(s)) = fields.get(key) {
            let list = if s.is_empty() { json!([]) } else { json!([s]) };
            fields.insert(key.to_owned(), list);
        }
    }
    if let Some(roles) = fields.get("defaultRoles")
        && !roles.is_null()
        && !roles
            .as_array()
            .is_some_and(|r| r.iter().all(Value::is_string))
    {
        return Err(Error::Invalid(
            "defaultRoles must be a string or a list of strings".into(),
        ));
    }
    Ok(fields)
}

async fn list(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ViewClients)
        .map_err(Error::from)?;
    let r = realm.clone();
    let all = state
        .ctx
        .db
        .run(move |conn| store::list(conn, &r, None))
        .await
        .map_err(Error::from)?;
    // The apps made for the tenant, not Keycloak's built-in clients.
    let data: Vec<Value> = all
        .iter()
        .filter(|a| ![ADMIN_CLI, REALM_MANAGEMENT].contains(&a.row.client_id.as_str()))
        .map(kobil_representation)
        .collect();
    Ok(kobil_ok(
        "App info fetched successfully",
        Some(Value::Array(data)),
    ))
}

async fn create(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let mut fields = keycloak_fields(body.into_inner())?;
    // Only the API's own choices; an id is made here.
    fields.remove("id");
    if !apps::tenant_exists(&state, &realm).await? {
        return Err(Error::TenantNotFound(realm).into());
    }
    let created = apps::create(&state, &realm, &fields).await?;
    Ok(kobil_ok(
        "App created successfully",
        Some(json!({"id": created.app.row.id, "appName": created.app.row.client_id})),
    ))
}

async fn get(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let (realm, name) = path.into_inner();
    caller
        .require(&realm, Permission::ViewClients)
        .map_err(Error::from)?;
    let app = apps::find_by_client_id(&state, &realm, &name).await?;
    Ok(kobil_ok(
        "App info fetched successfully",
        Some(kobil_representation(&app)),
    ))
}

/// Updates the app `name` with the fields sent (absent and null ones stay).
async fn apply_update(
    state: &State,
    realm: &str,
    name: &str,
    mut fields: Map<String, Value>,
) -> Result<(), Error> {
    if let Some(sent) = fields.remove("clientId")
        && !sent.is_null()
        && sent.as_str() != Some(name)
    {
        return Err(Error::Invalid(
            "appName names the app to update; it cannot be renamed here".into(),
        ));
    }
    fields.remove("id");
    let app = apps::find_by_client_id(state, realm, name).await?;
    apps::update(state, realm, app, &fields).await
}

async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let (realm, name) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let fields = keycloak_fields(body.into_inner())?;
    apply_update(&state, &realm, &name, fields).await?;
    Ok(kobil_ok("App updated successfully.", None))
}

/// The seed's form: the app to update is named by `appName` in the body.
async fn update_named_in_body(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let fields = keycloak_fields(body.into_inner())?;
    let name = fields
        .get("clientId")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Invalid("appName is required".into()))?
        .to_owned();
    apply_update(&state, &realm, &name, fields).await?;
    Ok(kobil_ok("App updated successfully.", None))
}

async fn delete(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let (realm, name) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let app = apps::find_by_client_id(&state, &realm, &name).await?;
    apps::delete(&state, &realm, &app).await?;
    Ok(kobil_ok("App deleted successfully", None))
}

async fn secret(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let (realm, name) = path.into_inner();
    caller
        .require(&realm, Permission::ViewClients)
        .map_err(Error::from)?;
    let app = apps::find_by_client_id(&state, &realm, &name).await?;
    let secret = apps::secret_of(&state, &app)?
        .ok_or_else(|| Error::Invalid(format!("{name} is a public app and has no secret")))?;
    Ok(kobil_ok(
        "App credential fetched successfully",
        Some(json!(secret)),
    ))
}

async fn regenerate(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let (realm, name) = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let app = apps::find_by_client_id(&state, &realm, &name).await?;
    let secret = apps::regenerate_secret(&state, &realm, &app).await?;
    Ok(kobil_ok(
        "App credential regenerated successfully",
        Some(json!(secret)),
    ))
}

#[derive(Debug, Deserialize)]
struct UmaQuery {
    #[serde(default, deserialize_with = "lenient_bool")]
    migrate: Option<bool>,
}

/// The UMA app: a confidential client with authorization services and the UMA scopes. The
/// caller is authorized by the bearer token; KOBIL's `adminuser`/`adminpassword` query
/// parameters are not used (and never logged). `migrate=true` gives every user of the tenant
/// `uma_authorization` by making it part of the tenant's default role.
async fn uma(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    query: web::Query<UmaQuery>,
) -> Result<HttpResponse, Kobil<Error, 2>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageClients)
        .map_err(Error::from)?;
    let migrate = query.migrate.ok_or_else(|| {
        Error::Invalid("the query parameter migrate (true or false) is required".into())
    })?;
    if !apps::tenant_exists(&state, &realm).await? {
        return Err(Error::TenantNotFound(realm).into());
    }
    let fields = json!({
        "clientId": UMA_APP,
        "name": "UMA app",
        "serviceAccountsEnabled": true,
        "authorizationServicesEnabled": true,
        "standardFlowEnabled": false,
        "authorizationSettings": {
            "allowRemoteResourceManagement": true,
            "policyEnforcementMode": "ENFORCING",
            "decisionStrategy": "UNANIMOUS",
            "scopes": [
                {"name": "uma_protection"},
                {"name": "uma_authorization"},
            ],
        },
    });
    let Value::Object(fields) = fields else {
        unreachable!("a JSON object literal");
    };
    apps::create(&state, &realm, &fields).await?;
    if !migrate {
        return Ok(kobil_ok("Created app successfully.", None));
    }
    let path = format!("/internal/realms/{realm}/default-roles/uma_authorization");
    let reply = state
        .ctx
        .client
        .request(reqwest::Method::PUT, ServiceKind::Tenants, &path)
        .send()
        .await
        .map_err(|e| Error::Upstream {
            service: "svc-tenants",
            cause: e.to_string(),
        })?;
    if !reply.status().is_success() {
        return Err(Error::Upstream {
            service: "svc-tenants",
            cause: format!("default role update answered {}", reply.status()),
        }
        .into());
    }
    Ok(kobil_ok(
        "Created app and migrated users successfully.",
        None,
    ))
}
