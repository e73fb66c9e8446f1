//! KOBIL's tenant settings (`/realms/{realm}/v3_realm/settings`: the realm's key-value
//! `attributes`) and app settings (`/realms/{realm}/v3_realm/appsettings`: the app version keys
//! among them).

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Kobil;
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::routes::{kobil_ok, tenant};
use crate::store::{self, TenantChanges};
use crate::{State, calls, realm};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/realms/{realm}/v3_realm/settings", web::get().to(get))
        .route("/realms/{realm}/v3_realm/settings", web::post().to(set))
        .route(
            "/realms/{realm}/v3_realm/settings",
            web::delete().to(delete),
        )
        .route(
            "/realms/{realm}/v3_realm/appsettings",
            web::get().to(get_app),
        )
        .route(
            "/realms/{realm}/v3_realm/appsettings",
            web::post().to(set_app),
        );
}

/// The platforms and fields of the app settings (the seed's keys, e.g. `macos_version`).
const APP_PLATFORMS: [&str; 5] = [
    "flutter_android",
    "flutter_ios",
    "huawei",
    "macos",
    "windows",
];
const APP_FIELDS: [&str; 4] = ["build_number", "link", "update_by", "version"];

pub fn is_app_setting(key: &str) -> bool {
    APP_PLATFORMS.iter().any(|p| {
        key.strip_prefix(p)
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|field| APP_FIELDS.contains(&field))
    })
}

async fn get(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ViewRealm)
        .map_err(Error::from)?;
    let tenant = tenant(&state, &realm).await?;
    Ok(kobil_ok(
        "Tenant setting(s) fetched successfully",
        Some(Value::Object(tenant.settings)),
    ))
}

/// Writes settings (a null value removes its key) and drops the cached realm.
async fn write(state: &State, realm: &str, fields: &Map<String, Value>) -> Result<(), Error> {
    if fields.is_empty() {
        return Err(Error::Invalid("no settings given".into()));
    }
    let settings = realm::check_settings(fields).map_err(Error::Invalid)?;
    let tenant = tenant(state, realm).await?;
    let changes = TenantChanges {
        settings,
        ..TenantChanges::default()
    };
    let id = tenant.row.id;
    let now = now_millis();
    state
        .ctx
        .db
        .run(move |conn| store::update(conn, &id, &changes, now))
        .await?;
    calls::forget_tenant(&state.ctx, realm).await
}

fn object(body: web::Json<Value>) -> Result<Map<String, Value>, Error> {
    match body.into_inner() {
        Value::Object(m) => Ok(m),
        _ => Err(Error::Invalid("the settings must be a JSON object".into())),
    }
}

async fn set(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    write(&state, &realm, &object(body)?).await?;
    Ok(kobil_ok("Tenant settings updated successfully", None))
}

#[derive(Debug, Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

async fn delete(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    query: web::Query<KeyQuery>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let key = query
        .into_inner()
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::Invalid("the query parameter key is required".into()))?;
    let tenant = tenant(&state, &realm).await?;
    let (id, name) = (tenant.row.id, key.clone());
    if !state
        .ctx
        .db
        .run(move |conn| store::delete_setting(conn, &id, &name))
        .await
        .map_err(Error::from)?
    {
        return Err(Error::SettingNotFound(key).into());
    }
    calls::forget_tenant(&state.ctx, &realm).await?;
    Ok(kobil_ok("Tenant setting deleted", None))
}

async fn get_app(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ViewRealm)
        .map_err(Error::from)?;
    let tenant = tenant(&state, &realm).await?;
    let app: Map<String, Value> = tenant
        .settings
        .into_iter()
        .filter(|(k, _)| is_app_setting(k))
        .collect();
    Ok(kobil_ok(
        "Tenant setting(s) fetched successfully",
        Some(Value::Object(app)),
    ))
}

/// Only the app version keys, with string or number values.
async fn set_app(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let fields = object(body)?;
    for (key, value) in &fields {
        if !is_app_setting(key) {
            return Err(Error::Invalid(format!(
                "{key:?} is not an app setting: use {{{}}}_{{{}}}",
                APP_PLATFORMS.join(","),
                APP_FIELDS.join(",")
            ))
            .into());
        }
        if !(value.is_string() || value.is_number() || value.is_null()) {
            return Err(Error::Invalid(format!("{key} must be a string or a number")).into());
        }
    }
    write(&state, &realm, &fields).await?;
    Ok(kobil_ok("Tenant settings updated successfully", None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_settings_are_the_seeds_keys() {
        for ok in [
            "flutter_android_version",
            "macos_link",
            "windows_build_number",
            "huawei_update_by",
        ] {
            assert!(is_app_setting(ok), "{ok}");
        }
        for bad in [
            "macos",
            "macos_",
            "linux_version",
            "flutter_android_versions",
            "UserProperty",
        ] {
            assert!(!is_app_setting(bad), "{bad}");
        }
    }
}
