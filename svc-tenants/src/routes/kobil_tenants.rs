//! KOBIL's tenant routes: list and create (`/realms/master/v4_realm/`), info
//! (`/realms/master/v4_realm/{t}`), update (`/realms/master/v3_realm/{t}`) and the creation
//! status (`/realms/{t}/v4_realm/status`).

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission, forbidden};
use idp_shared::error::{ErrorInfo, Kobil};
use serde_json::{Map, Value, json};

use crate::calls::{self, StepError};
use crate::creation::{self, ADMIN_FIELDS};
use crate::error::Error;
use crate::routes::admin_realms::{apply_update, full_representation, optional_bool, settings_of};
use crate::routes::{kobil_ok, tenant};
use crate::{MASTER, State, realm, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // KOBIL's published path has a trailing slash; both spellings are served.
    for path in ["/realms/{realm}/v4_realm", "/realms/{realm}/v4_realm/"] {
        cfg.route(path, web::get().to(list))
            .route(path, web::post().to(create));
    }
    cfg.route("/realms/{realm}/v4_realm/status", web::get().to(status))
        .route("/realms/{realm}/v4_realm/{tenant}", web::get().to(info))
        .route("/realms/{realm}/v3_realm/{tenant}", web::put().to(update));
}

/// The tenant-of-tenants routes live under `master` only, for its administrators.
fn require_master_admin(caller: &Caller, realm: &str) -> Result<(), Error> {
    if realm != MASTER {
        return Err(Error::Refused(ErrorInfo::not_found(format!(
            "tenants are managed under /realms/{MASTER}, not /realms/{realm}"
        ))));
    }
    if !caller.is_master_admin() {
        return Err(forbidden().into());
    }
    Ok(())
}

async fn list(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    require_master_admin(&caller, &path)?;
    let (tenants, creations) = state
        .ctx
        .db
        .run(|conn| Ok((store::list(conn)?, store::creations(conn)?)))
        .await
        .map_err(Error::from)?;
    let mut data = Vec::with_capacity(tenants.len());
    for t in &tenants {
        let rep = crate::representation(t);
        let admin = creations.get(&t.row.id).map(|c| c.admin_username.clone());
        data.push(json!({
            "name": t.row.name,
            "displayName": rep["displayName"],
            "enabled": t.row.enabled,
            "rememberMe": rep["rememberMe"],
            "resetPassword": rep["resetPasswordAllowed"],
            "registrationAllowed": rep["registrationAllowed"],
            "adminUsername": admin,
            "userCount": calls::user_count(&state.ctx, &t.row.name).await,
            "realmCreationStatus": t.row.creation_status,
        }));
    }
    Ok(kobil_ok(
        "Tenant list fetched successfully",
        Some(Value::Array(data)),
    ))
}

async fn create(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    require_master_admin(&caller, &path)?;
    let request = creation::parse(&body)?;
    let created = creation::create(&state, request).await?;
    let tenant_url = format!(
        "{}/realms/{}",
        state.ctx.settings.public_url(),
        created.tenant
    );
    Ok(kobil_ok(
        "Tenant created successfully",
        Some(json!({
            "tenantName": created.tenant,
            "emailId": created.email,
            "tenantUrl": tenant_url,
            "appId": created.app_id,
            "appSecret": created.app_secret,
        })),
    ))
}

/// The realm representation with KOBIL's additions: `settings`, the admin user's name and
/// email (for KOBIL-made tenants) and `userCount` (when svc-users tells).
async fn info(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let (realm, name) = path.into_inner();
    require_master_admin(&caller, &realm)?;
    let mut rep = full_representation(&state, &name).await?;
    let id = rep["id"].as_str().unwrap_or_default().to_owned();
    let creation = state
        .ctx
        .db
        .run(move |conn| store::find_creation(conn, &id))
        .await
        .map_err(Error::from)?;
    let count = calls::user_count(&state.ctx, &name).await;
    if let Value::Object(map) = &mut rep {
        map.insert("settings".into(), map["attributes"].clone());
        map.insert("userCount".into(), json!(count));
        if let Some(c) = creation {
            map.insert("adminUsername".into(), json!(c.admin_username));
            map.insert("adminEmail".into(), json!(c.admin_email));
        }
    }
    Ok(kobil_ok("Tenant info fetched successfully", Some(rep)))
}

/// KOBIL's update: realm fields, `settings` (merged into the realm's attributes) and the
/// admin user's password. The admin user's name and email are changed through the users
/// API, so here they must match what the tenant was created with.
async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let (realm, name) = path.into_inner();
    require_master_admin(&caller, &realm)?;
    let Value::Object(body) = body.into_inner() else {
        return Err(Error::Invalid("the tenant must be a JSON object".into()).into());
    };
    let mut fields: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| !ADMIN_FIELDS.contains(&k.as_str()) && k.as_str() != "settings")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(settings) = body.get("settings") {
        fields.insert("attributes".into(), settings.clone());
    }
    // Everything is checked before anything changes.
    optional_bool(&fields, "enabled")?;
    settings_of(&fields)?;
    realm::check_fields(&crate::routes::admin_realms::without_nulls(&fields))
        .map_err(Error::Invalid)?;
    let password = match body.get("adminPassword") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if !p.is_empty() && p.len() <= 1024 => Some(p.clone()),
        Some(_) => {
            return Err(Error::Invalid("adminPassword must be a non-empty string".into()).into());
        }
    };
    let tenant = tenant(&state, &name).await?;
    let id = tenant.row.id.clone();
    let creation = state
        .ctx
        .db
        .run(move |conn| store::find_creation(conn, &id))
        .await
        .map_err(Error::from)?;
    for (key, recorded) in [
        (
            "adminUsername",
            creation.as_ref().map(|c| &c.admin_username),
        ),
        ("adminEmail", creation.as_ref().map(|c| &c.admin_email)),
    ] {
        if let Some(sent) = body.get(key).and_then(Value::as_str)
            && recorded.is_none_or(|r| !r.eq_ignore_ascii_case(sent))
        {
            return Err(Error::Invalid(format!(
                "{key} cannot be changed here: change the admin user through the users API"
            ))
            .into());
        }
    }
    if let Some(password) = password {
        let Some(user_id) = creation.as_ref().and_then(|c| c.admin_user_id.clone()) else {
            return Err(Error::Invalid(format!(
                "tenant {name} has no admin user of its creation; set passwords through the \
                 users API"
            ))
            .into());
        };
        match calls::set_password(&state.ctx, &name, &user_id, &password).await {
            Ok(()) => {}
            Err(StepError::Refused(message)) => return Err(Error::Invalid(message).into()),
            Err(StepError::Failed(cause)) => {
                return Err(Error::Upstream {
                    service: "svc-login",
                    cause,
                }
                .into());
            }
        }
    }
    apply_update(&state, &name, &fields).await?;
    Ok(kobil_ok("Tenant updated successfully", None))
}

/// The creation status of the path's tenant (its own administrators may ask).
async fn status(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ViewRealm)
        .map_err(Error::from)?;
    let tenant = tenant(&state, &realm).await?;
    let id = tenant.row.id.clone();
    let creation = state
        .ctx
        .db
        .run(move |conn| store::find_creation(conn, &id))
        .await
        .map_err(Error::from)?;
    Ok(kobil_ok(
        "Tenant status fetched successfully",
        Some(creation::status_document(
            &tenant.row.creation_status,
            creation.as_ref(),
        )),
    ))
}
