//! The KOBIL tenant creation: the realm (status REQUESTED), Keycloak's default clients, the
//! admin user, its password, a default confidential app, then ACTIVE. Each step's status is
//! recorded; a failed step leaves the tenant BLOCKED and the same request resumes it where it
//! stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use idp_shared::names::{check_tenant_name, now_millis};
use serde_json::{Map, Value, json};

use crate::calls::{self, StepError};
use crate::error::Error;
use crate::store::{self, CreationRow, STATUS_ACTIVE, STATUS_BLOCKED, STATUS_REQUESTED};
use crate::{MASTER, State, realm, roles};

/// The steps, in order, with the names the status route shows.
pub const STEPS: [&str; 5] = [
    "realm",
    "defaultClients",
    "adminUser",
    "adminPassword",
    "defaultApp",
];
pub const STEP_PENDING: &str = "PENDING";
pub const STEP_SUCCESS: &str = "SUCCESS";
pub const STEP_FAILED: &str = "FAILED";

/// The confidential app every KOBIL-created tenant gets (the client id of the seed's sample).
pub const DEFAULT_APP: &str = "digitanium-app";

/// Fields of the request that describe the admin user, never stored with the realm.
pub const ADMIN_FIELDS: [&str; 5] = [
    "adminUsername",
    "adminEmail",
    "adminPassword",
    "adminFirstName",
    "adminLastName",
];

/// How long one creation may hold the tenant's name against a concurrent one.
const LOCK_TTL: Duration = Duration::from_secs(120);

/// A checked creation request.
pub struct Request {
    pub name: String,
    pub enabled: bool,
    /// Realm representation fields to store.
    pub attributes: Map<String, Value>,
    pub settings: Map<String, Value>,
    pub admin_username: String,
    pub admin_email: String,
    pub admin_password: String,
    pub admin_first_name: Option<String>,
    pub admin_last_name: Option<String>,
}

fn required_text(fields: &Map<String, Value>, key: &str, max: usize) -> Result<String, Error> {
    match fields.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            optional_text(fields, key, max).map(|o| o.unwrap_or_default())
        }
        _ => Err(Error::Invalid(format!("{key} is required"))),
    }
}

fn optional_text(
    fields: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, Error> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max && !s.chars().any(char::is_control) => {
            Ok(Some(s.clone()))
        }
        Some(Value::String(_)) => Err(Error::Invalid(format!(
            "{key} has at most {max} characters and no control characters"
        ))),
        Some(_) => Err(Error::Invalid(format!("{key} must be a string"))),
    }
}

/// Checks the request body of "Create tenant". The password is checked by svc-login.
pub fn parse(body: &Value) -> Result<Request, Error> {
    let Value::Object(fields) = body else {
        return Err(Error::Invalid("the tenant must be a JSON object".into()));
    };
    let name = required_text(fields, "realm", 100)?;
    check_tenant_name(&name).map_err(Error::Invalid)?;
    let admin_username = required_text(fields, "adminUsername", 255)?;
    let admin_email = required_text(fields, "adminEmail", 254)?;
    let at = admin_email.find('@');
    if at.is_none_or(|i| i == 0 || i == admin_email.len() - 1) || admin_email.contains(' ') {
        return Err(Error::Invalid(format!(
            "adminEmail {admin_email:?} is not an email address"
        )));
    }
    let admin_password = match fields.get("adminPassword") {
        Some(Value::String(p)) if !p.is_empty() && p.len() <= 1024 => p.clone(),
        _ => return Err(Error::Invalid("adminPassword is required".into())),
    };
    let enabled = crate::routes::admin_realms::optional_bool(fields, "enabled")?.unwrap_or(true);
    let realm_fields: Map<String, Value> = fields
        .iter()
        .filter(|(k, v)| {
            !ADMIN_FIELDS.contains(&k.as_str()) && k.as_str() != "settings" && !v.is_null()
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let attributes = realm::check_fields(&realm_fields).map_err(Error::Invalid)?;
    let settings = match fields.get("settings") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => realm::check_settings(m)
            .map_err(Error::Invalid)?
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect(),
        Some(_) => return Err(Error::Invalid("settings must be an object".into())),
    };
    Ok(Request {
        name,
        enabled,
        attributes,
        settings,
        admin_username,
        admin_email,
        admin_password,
        admin_first_name: optional_text(fields, "adminFirstName", 255)?,
        admin_last_name: optional_text(fields, "adminLastName", 255)?,
    })
}

/// What "Create tenant" answers.
pub struct Created {
    pub tenant: String,
    pub email: String,
    pub app_id: String,
    pub app_secret: String,
}

fn lock_key(name: &str) -> String {
    format!("tenants:creating:{name}")
}

/// Runs (or resumes) the creation of a tenant. One creation per name at a time.
pub async fn create(state: &State, request: Request) -> Result<Created, Error> {
    if request.name == MASTER {
        return Err(Error::TenantExists(MASTER.into()));
    }
    let key = lock_key(&request.name);
    if !state.ctx.cache.set_if_absent(&key, b"1", LOCK_TTL).await? {
        return Err(Error::Busy(request.name));
    }
    let result = run(state, &request).await;
    if let Err(e) = state.ctx.cache.delete(&key).await {
        tracing::warn!(error = %e, "could not release a tenant creation lock");
    }
    result
}

fn steps_of(row: &CreationRow) -> BTreeMap<String, String> {
    let mut steps: BTreeMap<String, String> = serde_json::from_str(&row.steps).unwrap_or_default();
    for step in STEPS {
        steps
            .entry(step.to_owned())
            .or_insert_with(|| STEP_PENDING.to_owned());
    }
    steps
}

async fn save(
    state: &State,
    row: &CreationRow,
    steps: &BTreeMap<String, String>,
    status: &str,
) -> Result<(), Error> {
    let mut row = row.clone();
    row.steps = json!(steps).to_string();
    row.updated_at = now_millis();
    let now = row.updated_at;
    let status = status.to_owned();
    state
        .ctx
        .db
        .run(move |conn| {
            store::save_creation(conn, &row)?;
            store::set_creation_status(conn, &row.tenant_id, &status, now)
        })
        .await?;
    Ok(())
}

async fn run(state: &State, request: &Request) -> Result<Created, Error> {
    let name = request.name.clone();
    let now = now_millis();
    let lookup = name.clone();
    let existing = state
        .ctx
        .db
        .run(move |conn| {
            let Some(tenant) = store::find_by_name(conn, &lookup)? else {
                return Ok(None);
            };
            let creation = store::find_creation(conn, &tenant.row.id)?;
            Ok(Some((tenant, creation)))
        })
        .await?;
    let mut creation = match existing {
        None => {
            let mut tenant =
                crate::new_tenant(&name, request.enabled, request.attributes.clone(), now);
            tenant.row.creation_status = STATUS_REQUESTED.to_owned();
            tenant.settings = request.settings.clone();
            let id = tenant.row.id.clone();
            let mut new_roles = roles::realm_defaults(&name, &id, now);
            new_roles.extend(roles::tenant_admin_roles(&id, now));
            let mut steps: BTreeMap<String, String> = STEPS
                .iter()
                .map(|s| ((*s).to_owned(), STEP_PENDING.to_owned()))
                .collect();
            steps.insert("realm".into(), STEP_SUCCESS.into());
            let row = CreationRow {
                tenant_id: id,
                admin_username: request.admin_username.clone(),
                admin_email: request.admin_email.clone(),
                admin_user_id: None,
                default_app_id: None,
                steps: json!(steps).to_string(),
                updated_at: now,
            };
            let stored = row.clone();
            match state
                .ctx
                .db
                .run(move |conn| {
                    store::create_realm_with_creation(conn, &tenant, &new_roles, &stored)
                })
                .await
            {
                Ok(()) => {}
                Err(e) if e.is_unique_violation() => return Err(Error::TenantExists(name)),
                Err(e) => return Err(e.into()),
            }
            tracing::info!(tenant = %name, "tenant creation started");
            row
        }
        Some((tenant, _)) if tenant.row.creation_status == STATUS_ACTIVE => {
            return Err(Error::TenantExists(name));
        }
        Some((_, Some(mut row))) => {
            // Until the admin user exists, a retry may name another one (say, after svc-users
            // refused the first); after that it must be the same user.
            if row.admin_user_id.is_none() {
                row.admin_username = request.admin_username.clone();
                row.admin_email = request.admin_email.clone();
            } else if row.admin_username != request.admin_username {
                return Err(Error::Invalid(format!(
                    "tenant {name} is being created with another admin user; resume it with the \
                     same adminUsername"
                )));
            }
            tracing::info!(tenant = %name, "tenant creation resumed");
            row
        }
        Some((tenant, None)) => {
            // Not KOBIL-made and not finished: record it now and carry on.
            CreationRow {
                tenant_id: tenant.row.id,
                admin_username: request.admin_username.clone(),
                admin_email: request.admin_email.clone(),
                admin_user_id: None,
                default_app_id: None,
                steps: json!({"realm": STEP_SUCCESS}).to_string(),
                updated_at: now,
            }
        }
    };
    let mut steps = steps_of(&creation);
    // svc-auth may have cached "no such realm" a moment ago.
    calls::forget_tenant(&state.ctx, &name).await?;

    macro_rules! step {
        ($step:expr, $work:expr) => {{
            match $work {
                Ok(v) => {
                    steps.insert($step.to_owned(), STEP_SUCCESS.to_owned());
                    save(state, &creation, &steps, STATUS_REQUESTED).await?;
                    v
                }
                Err(e) => {
                    steps.insert($step.to_owned(), STEP_FAILED.to_owned());
                    save(state, &creation, &steps, STATUS_BLOCKED).await?;
                    return Err(match e {
                        StepError::Refused(message) => Error::Invalid(format!(
                            "tenant {name} is BLOCKED at step {}: {message}; fix the request and \
                             send it again",
                            $step
                        )),
                        StepError::Failed(cause) => Error::CreationBlocked {
                            tenant: name.clone(),
                            step: $step,
                            cause,
                        },
                    });
                }
            }
        }};
    }

    if steps["defaultClients"] != STEP_SUCCESS {
        step!(
            "defaultClients",
            calls::ensure_default_clients(&state.ctx, &name)
                .await
                .map_err(StepError::from)
        );
    }
    if creation.admin_user_id.is_none() || steps["adminUser"] != STEP_SUCCESS {
        let user = json!({
            "username": request.admin_username,
            "email": request.admin_email,
            "firstName": request.admin_first_name,
            "lastName": request.admin_last_name,
            "enabled": true,
            "realmRoles": [roles::ADMIN, roles::REALM_ADMIN],
            "clientRoles": {"realm-management": ["realm-admin"]},
        });
        let id = step!(
            "adminUser",
            calls::create_admin_user(&state.ctx, &name, &user)
                .await
                .map(Some)
        );
        creation.admin_user_id = id;
        save(state, &creation, &steps, STATUS_REQUESTED).await?;
    }
    let user_id = creation.admin_user_id.clone().unwrap_or_default();
    if steps["adminPassword"] != STEP_SUCCESS {
        step!(
            "adminPassword",
            calls::set_password(&state.ctx, &name, &user_id, &request.admin_password).await
        );
    }
    // Always (re)issued: a retried creation's first answer, with the secret, may be lost.
    let client = json!({
        "clientId": DEFAULT_APP,
        "name": "Default app",
        "serviceAccountsEnabled": true,
        "directAccessGrantsEnabled": true,
    });
    let (app_id, app_secret) = step!(
        "defaultApp",
        calls::default_app(&state.ctx, &name, &client).await
    );
    creation.default_app_id = Some(app_id);
    save(state, &creation, &steps, STATUS_ACTIVE).await?;
    calls::forget_tenant(&state.ctx, &name).await?;
    tracing::info!(tenant = %name, "tenant created");
    Ok(Created {
        tenant: name,
        email: request.admin_email.clone(),
        app_id: DEFAULT_APP.to_owned(),
        app_secret,
    })
}

/// The status route's answer: the tenant's creation status, the platform's part of it
/// (`iamStatus`), the certificate parts KOBIL's API has (this platform issues no
/// certificates: NOT_APPLICABLE), and each step.
pub fn status_document(creation_status: &str, creation: Option<&CreationRow>) -> Value {
    let steps = creation.map(steps_of).unwrap_or_else(|| {
        // A tenant made by Keycloak's API: every step was done in one go.
        STEPS
            .iter()
            .map(|s| ((*s).to_owned(), STEP_SUCCESS.to_owned()))
            .collect()
    });
    let iam = if steps.values().all(|s| s == STEP_SUCCESS) {
        "SUCCESS"
    } else if steps.values().any(|s| s == STEP_FAILED) {
        STATUS_BLOCKED
    } else {
        STATUS_REQUESTED
    };
    let na = "NOT_APPLICABLE";
    let certs = json!({"authentication": na, "encryption": na, "signature": na});
    json!({
        "status": creation_status,
        "iamStatus": iam,
        "signerCertStatus": na,
        "identityUserCertStatus": {
            "externalIdentityUser": certs,
            "internalIdentityUser": certs,
        },
        "steps": steps,
    })
}
