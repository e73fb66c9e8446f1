//! Keycloak's realm admin API: `/admin/realms` and `/admin/realms/{realm}`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission, forbidden};
use idp_shared::error::Keycloak;
use idp_shared::names::{check_tenant_name, now_millis};
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::routes::{location, tenant};
use crate::store::{self, TenantChanges};
use crate::{MASTER, State, calls, realm, representation, roles};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(list))
        .route("", web::post().to(create))
        .route("/{realm}", web::get().to(get))
        .route("/{realm}", web::put().to(update))
        .route("/{realm}", web::delete().to(delete))
        .route("/{realm}/push-revocation", web::post().to(push_revocation))
        .route("/{realm}/logout-all", web::post().to(push_revocation));
}

/// Keycloak's push-revocation and logout-all: the realm's `notBefore` becomes now, so every
/// token issued before it is refused (the verifiers re-read it within seconds) and no
/// session issued before it can refresh. Keycloak's `GlobalRequestResult` reply: we push to
/// no client adapters.
async fn push_revocation(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let name = path.into_inner();
    caller
        .require(&name, Permission::ManageRealm)
        .map_err(Error::from)?;
    let mut fields = Map::new();
    fields.insert("notBefore".into(), json!(now_millis() / 1000));
    apply_update(&state, &name, &fields).await?;
    Ok(HttpResponse::Ok().json(json!({"successRequests": [], "failedRequests": []})))
}

/// The realms the caller may view, as full representations. Keycloak answers 403 when that
/// is none.
async fn list(caller: Caller, state: web::Data<State>) -> Result<HttpResponse, Keycloak<Error>> {
    let tenants = state.ctx.db.run(store::list).await.map_err(Error::from)?;
    let visible: Vec<Value> = tenants
        .iter()
        .filter(|t| caller.may(&t.row.name, Permission::ViewRealm))
        .map(representation)
        .collect();
    if visible.is_empty() {
        return Err(Error::from(forbidden()).into());
    }
    Ok(HttpResponse::Ok().json(visible))
}

/// A boolean field of a body: absent or null is `None`, anything but a boolean is refused.
pub fn optional_bool(fields: &Map<String, Value>, key: &str) -> Result<Option<bool>, Error> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::Invalid(format!("{key} must be a boolean"))),
    }
}

/// `notBefore` in seconds as Keycloak sends it, stored in milliseconds.
fn not_before(fields: &Map<String, Value>) -> Result<Option<i64>, Error> {
    match fields.get("notBefore") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= i32::MAX as u64 => Ok(Some(n as i64 * 1000)),
            _ => Err(Error::Invalid(format!(
                "notBefore must be a whole number from 0 to {}",
                i32::MAX
            ))),
        },
    }
}

/// The settings (`attributes`) a body sets; `null` values remove a key on update.
pub fn settings_of(fields: &Map<String, Value>) -> Result<Vec<(String, Option<Value>)>, Error> {
    match fields.get("attributes") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => realm::check_settings(map).map_err(Error::Invalid),
        Some(_) => Err(Error::Invalid("attributes must be an object".into())),
    }
}

/// Creates a realm with Keycloak's default roles and clients (master administrators only).
async fn create(
    caller: Caller,
    state: web::Data<State>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    if !caller.is_master_admin() {
        return Err(Error::from(forbidden()).into());
    }
    let Value::Object(fields) = body.into_inner() else {
        return Err(Error::Invalid("the realm must be a JSON object".into()).into());
    };
    let name = match fields.get("realm") {
        Some(Value::String(n)) => n.clone(),
        _ => return Err(Error::Invalid("realm (the realm's name) is required".into()).into()),
    };
    check_tenant_name(&name).map_err(Error::Invalid)?;
    // Keycloak creates a realm disabled unless told otherwise.
    let enabled = optional_bool(&fields, "enabled")?.unwrap_or(false);
    let not_before = not_before(&fields)?.unwrap_or(0);
    let attributes = realm::check_fields(&without_nulls(&fields)).map_err(Error::Invalid)?;
    let settings = settings_of(&fields)?
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let now = now_millis();
    let mut new = crate::new_tenant(&name, enabled, attributes, now);
    new.row.not_before = not_before;
    new.settings = settings;
    match create_with_default_clients(&state, new, roles::realm_defaults(&name, "", now)).await {
        Ok(()) => {}
        // Keycloak's exact answer: python-keycloak's `create_realm(skip_exists=True)` matches
        // this body to tell "exists" from a failure.
        Err(Error::TenantExists(_)) => {
            return Ok(HttpResponse::Conflict()
                .json(json!({"errorMessage": "Conflict detected. See logs for details"})));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            location(&state, &format!("/admin/realms/{name}")),
        ))
        .finish())
}

/// Stores a new tenant with `roles` (their tenant id filled in here), then has svc-apps
/// create its default clients. If that fails the tenant is removed again, so the same
/// request can be retried.
pub async fn create_with_default_clients(
    state: &State,
    tenant: store::Tenant,
    mut new_roles: Vec<store::NewRole>,
) -> Result<(), Error> {
    let name = tenant.row.name.clone();
    let id = tenant.row.id.clone();
    for role in &mut new_roles {
        role.row.tenant_id = id.clone();
    }
    match state
        .ctx
        .db
        .run(move |conn| store::create_realm(conn, &tenant, &new_roles))
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_unique_violation() => return Err(Error::TenantExists(name)),
        Err(e) => return Err(e.into()),
    }
    if let Err(e) = calls::ensure_default_clients(&state.ctx, &name).await {
        let id = id.clone();
        state
            .ctx
            .db
            .run(move |conn| store::delete(conn, &id))
            .await?;
        return Err(e);
    }
    // svc-auth may have cached "no such realm" a moment ago.
    calls::forget_tenant(&state.ctx, &name).await?;
    tracing::info!(tenant = %name, "created a tenant");
    Ok(())
}

/// Keycloak treats a null field of an update as "leave as it is".
pub fn without_nulls(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The realm representation, with Keycloak's `defaultRole`.
pub async fn full_representation(state: &State, name: &str) -> Result<Value, Error> {
    let tenant = tenant(state, name).await?;
    let (id, role_name) = (tenant.row.id.clone(), roles::default_roles_name(name));
    let default_role = state
        .ctx
        .db
        .run(move |conn| {
            let Some(role) = store::find_role(conn, &id, &role_name)? else {
                return Ok(None);
            };
            let children = store::composite_names(conn, &role.id)?;
            Ok(Some((role, children)))
        })
        .await?;
    let mut rep = representation(&tenant);
    if let (Some((role, children)), Value::Object(map)) = (default_role, &mut rep) {
        map.insert(
            "defaultRole".into(),
            roles::representation(&role, &children, true),
        );
    }
    Ok(rep)
}

async fn get(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let name = path.into_inner();
    caller
        .require(&name, Permission::ViewRealm)
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(full_representation(&state, &name).await?))
}

/// Applies the fields a realm representation sets (Keycloak's partial update: absent and
/// null fields stay as they are). Renaming is not supported: every service keys by name.
pub async fn apply_update(
    state: &State,
    name: &str,
    fields: &Map<String, Value>,
) -> Result<(), Error> {
    if let Some(new_name) = fields.get("realm").and_then(Value::as_str)
        && new_name != name
    {
        return Err(Error::Invalid("a realm cannot be renamed".into()));
    }
    let enabled = optional_bool(fields, "enabled")?;
    if name == MASTER && enabled == Some(false) {
        return Err(Error::Invalid(
            "the master realm cannot be disabled: it administers the others".into(),
        ));
    }
    let changes = TenantChanges {
        enabled,
        not_before: not_before(fields)?,
        creation_status: None,
        attributes: realm::check_fields(&without_nulls(fields)).map_err(Error::Invalid)?,
        settings: settings_of(fields)?,
    };
    let tenant = tenant(state, name).await?;
    let id = tenant.row.id.clone();
    let now = now_millis();
    let found = state
        .ctx
        .db
        .run(move |conn| store::update(conn, &id, &changes, now))
        .await?;
    if !found {
        return Err(Error::TenantNotFound(name.to_owned()));
    }
    calls::forget_tenant(&state.ctx, name).await
}

async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let name = path.into_inner();
    caller
        .require(&name, Permission::ManageRealm)
        .map_err(Error::from)?;
    let Value::Object(fields) = body.into_inner() else {
        return Err(Error::Invalid("the realm must be a JSON object".into()).into());
    };
    apply_update(&state, &name, &fields).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a realm everywhere (master administrators only; `master` itself stays). The other
/// services go first, so a failure leaves the realm in place and the delete can be retried.
pub async fn delete_tenant(state: &State, name: &str) -> Result<(), Error> {
    if name == MASTER {
        return Err(Error::Invalid("the master realm cannot be deleted".into()));
    }
    let tenant = tenant(state, name).await?;
    calls::delete_everywhere(&state.ctx, name).await?;
    let id = tenant.row.id;
    state
        .ctx
        .db
        .run(move |conn| store::delete(conn, &id))
        .await?;
    calls::forget_tenant(&state.ctx, name).await?;
    tracing::info!(tenant = %name, "deleted a tenant");
    Ok(())
}

async fn delete(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let name = path.into_inner();
    if !caller.is_master_admin() {
        return Err(Error::from(forbidden()).into());
    }
    delete_tenant(&state, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}
