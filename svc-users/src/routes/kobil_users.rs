//! KOBIL's routes of one user (subSystem 5): `/realms/{realm}/v3_user[/{userName}/...]`.
//! Paths name the user by username; replies are KOBIL's envelope, except the two that its
//! reference shows bare (the user by id, the credentials).

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Kobil;
use serde_json::{Value, json};

use crate::State;
use crate::accounts::{check_email_free, create_user, initial_password, load};
use crate::error::Error;
use crate::kobil::{
    self, by_username, client_role_names, groups_named, resolve_grants, string_list,
};
use crate::model::{User, UserInput, representation, required_action};
use crate::peers::{self, PasswordChange};
use crate::store::{
    self, ClientRoleGrant, Grants, KOBIL_ADMIN_REALM_ROLES, REALM_ADMIN_CLIENT_ROLE,
    groups as group_store,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let base = "/realms/{realm}/v3_user";
    cfg.route(base, web::post().to(create))
        .route(&format!("{base}/id/{{id}}"), web::get().to(by_id))
        .route(&format!("{base}/{{username}}"), web::get().to(get))
        .route(&format!("{base}/{{username}}"), web::delete().to(delete))
        .route(
            &format!("{base}/{{username}}/update"),
            web::put().to(update),
        )
        .route(
            &format!("{base}/{{username}}/profile"),
            web::put().to(profile),
        )
        .route(
            &format!("{base}/{{username}}/enable"),
            web::put().to(enable),
        )
        .route(
            &format!("{base}/{{username}}/promote"),
            web::put().to(promote),
        )
        .route(
            &format!("{base}/{{username}}/promote"),
            web::delete().to(demote),
        )
        .route(
            &format!("{base}/{{username}}/tenantlist"),
            web::get().to(tenant_list),
        )
        .route(
            &format!("{base}/{{username}}/requiredaction"),
            web::delete().to(revoke_required_actions),
        )
        .route(
            &format!("{base}/{{username}}/role"),
            web::delete().to(revoke_roles),
        )
        .route(
            &format!("{base}/{{username}}/credentials"),
            web::get().to(credentials),
        )
        .route(
            &format!("{base}/{{username}}/groups"),
            web::put().to(join_groups),
        )
        .route(
            &format!("{base}/{{username}}/groups"),
            web::delete().to(leave_groups),
        );
}

type Reply = Result<HttpResponse, Kobil<Error, 5>>;
type UserPath = web::Path<(String, String)>;

/// Keycloak's user fields plus `realmRoles`, `clientRoles`, `groups` and `credentials`; every
/// role and group must exist. 200 with the new user's id; 409 for a taken username or email.
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
    let grants = resolve_grants(&state, &tenant, &body).await?;
    let user = create_user(&state, &tenant, input, grants, password).await?;
    Ok(kobil::ok(
        "User created successfully.",
        Some(json!({"id": user.row.id})),
    ))
}

/// Keycloak's representation of the user with this id (bare, as KOBIL's reference shows).
async fn by_id(caller: Caller, state: web::Data<State>, path: UserPath) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let user = load(&state, &tenant, &id).await?;
    Ok(HttpResponse::Ok().json(representation(&user, false, false)))
}

async fn get(caller: Caller, state: web::Data<State>, path: UserPath) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    let admin = kobil::is_admin(&state, &user).await?;
    Ok(kobil::ok(
        "User info fetched successfully",
        Some(kobil::representation(&user, admin)),
    ))
}

/// Removes the user; its sessions end and its credentials go.
async fn delete(caller: Caller, state: web::Data<State>, path: UserPath) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    peers::forget_user(&state, &tenant, &user.row.id).await?;
    let (t, id) = (tenant.clone(), user.row.id.clone());
    state
        .ctx
        .db
        .run(move |conn| store::delete_user(conn, &t, &id))
        .await
        .map_err(Error::from)?;
    Ok(kobil::ok("User deleted successfully", None))
}

/// Writes a changed user with added grants; a new password (checked by svc-login) is set
/// first, so a refused password changes nothing. Disabling ends the user's sessions.
async fn save(
    state: &State,
    mut user: User,
    input: UserInput,
    grants: Grants,
    password: Option<crate::accounts::InitialPassword>,
) -> Result<(), Error> {
    let was_enabled = user.row.enabled;
    let old_username = user.row.username.clone();
    input.apply(&mut user);
    let (tenant, id) = (user.row.tenant.clone(), user.row.id.clone());
    check_email_free(state, &tenant, user.row.email.as_deref(), Some(&id)).await?;
    // A taken username is found before the password changes (the write would refuse it).
    if user.row.username != old_username {
        let (t, name) = (tenant.clone(), user.row.username.clone());
        let taken = state
            .ctx
            .db
            .run(move |conn| store::find_by_username(conn, &t, &name))
            .await?;
        if taken.is_some() {
            return Err(Error::Conflict("User exists with same username".into()));
        }
    }
    if let Some(password) = password {
        peers::set_password(
            state,
            PasswordChange {
                tenant: &tenant,
                user_id: &id,
                value: &password.value,
                temporary: password.temporary,
                username: &user.row.username,
                email: user.row.email.as_deref(),
                reason: "reset",
            },
        )
        .await?;
    }
    let enabled = user.row.enabled;
    state
        .ctx
        .db
        .run(move |conn| store::update_user_with_grants(conn, &user, &grants))
        .await?;
    if was_enabled && !enabled {
        peers::end_sessions(state, &tenant, &id).await?;
    }
    Ok(())
}

/// KOBIL's update: given fields replace, given roles and groups are added, `credentials`
/// sets the password.
async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    let input = UserInput::parse(&body)?;
    let password = initial_password(&body)?;
    let grants = resolve_grants(&state, &tenant, &body).await?;
    save(&state, user, input, grants, password).await?;
    Ok(kobil::ok("User updated successfully", None))
}

/// firstName, lastName, email and attributes; given attributes are set, others kept.
async fn profile(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    let Value::Object(fields) = &*body else {
        return Err(Error::Invalid("the body must be a profile object".into()).into());
    };
    let profile: serde_json::Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| ["firstName", "lastName", "email", "attributes"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut input = UserInput::parse(&Value::Object(profile))?;
    if let Some(given) = input.attributes.take() {
        let mut merged = user.attributes.clone();
        merged.extend(given);
        if merged.len() > crate::model::MAX_ATTRIBUTES {
            return Err(Error::Invalid(format!(
                "at most {} attributes per user",
                crate::model::MAX_ATTRIBUTES
            ))
            .into());
        }
        input.attributes = Some(merged);
    }
    save(&state, user, input, Grants::default(), None).await?;
    Ok(kobil::ok("User profile updated successfully.", None))
}

/// `{enabled}`: enables or disables (the user's sessions end).
async fn enable(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    let enabled = body["enabled"]
        .as_bool()
        .ok_or_else(|| Error::Invalid("enabled must be true or false".into()))?;
    let input = UserInput {
        enabled: Some(enabled),
        ..UserInput::default()
    };
    save(&state, user, input, Grants::default(), None).await?;
    Ok(kobil::ok(
        if enabled {
            "User enabled successfully"
        } else {
            "User disabled successfully"
        },
        None,
    ))
}

/// The administrator roles this tenant has: the realm roles digitanium_admin, admin and
/// realm-admin that exist, and `realm-management`'s realm-admin. None is created here.
async fn admin_grants(state: &State, tenant: &str) -> Result<Grants, Error> {
    let known = peers::realm_roles(state, tenant).await?;
    let realm_roles: Vec<String> = KOBIL_ADMIN_REALM_ROLES
        .iter()
        .filter(|name| known.iter().any(|r| r["name"].as_str() == Some(**name)))
        .map(|name| name.to_string())
        .collect();
    let mut client_roles = Vec::new();
    if let Some((app_id, roles)) =
        peers::app_by_client_id(state, tenant, idp_shared::admin::REALM_MANAGEMENT).await?
        && roles.iter().any(|r| r == REALM_ADMIN_CLIENT_ROLE)
    {
        client_roles.push(ClientRoleGrant {
            app_id,
            client_id: idp_shared::admin::REALM_MANAGEMENT.to_owned(),
            role: REALM_ADMIN_CLIENT_ROLE.to_owned(),
        });
    }
    Ok(Grants {
        realm_roles,
        client_roles,
        group_ids: Vec::new(),
    })
}

async fn promote(caller: Caller, state: web::Data<State>, path: UserPath) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    let grants = admin_grants(&state, &tenant).await?;
    if grants.realm_roles.is_empty() && grants.client_roles.is_empty() {
        return Err(Error::Invalid(
            "the tenant has none of the roles digitanium_admin, admin, realm-admin".into(),
        )
        .into());
    }
    let (t, id) = (tenant.clone(), user.row.id.clone());
    state
        .ctx
        .db
        .run(move |conn| store::grant(conn, &t, &id, &grants))
        .await
        .map_err(Error::from)?;
    Ok(kobil::ok("User promoted successfully", None))
}

/// Takes every administrator role away; the user's sessions end so no token keeps them.
async fn demote(caller: Caller, state: web::Data<State>, path: UserPath) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    let id = user.row.id.clone();
    let app = peers::app_by_client_id(&state, &tenant, idp_shared::admin::REALM_MANAGEMENT).await?;
    state
        .ctx
        .db
        .run(move |conn| {
            let roles: Vec<String> = KOBIL_ADMIN_REALM_ROLES
                .iter()
                .map(|r| r.to_string())
                .collect();
            store::remove_realm_roles(conn, &id, &roles)?;
            if let Some((app_id, _)) = &app {
                store::remove_client_roles(
                    conn,
                    &id,
                    app_id,
                    &[REALM_ADMIN_CLIENT_ROLE.to_owned()],
                )?;
            }
            Ok(())
        })
        .await
        .map_err(Error::from)?;
    peers::end_sessions(&state, &tenant, &user.row.id).await?;
    Ok(kobil::ok("Admin access revoked successfully", None))
}

/// The tenants where this username exists, comma-separated as KOBIL's sample shows one
/// name. The user itself sees all; an administrator only the tenants it administers.
async fn tenant_list(caller: Caller, state: web::Data<State>, path: UserPath) -> Reply {
    let (tenant, username) = path.into_inner();
    let user = by_username(&state, &tenant, &username).await.map_err(|e| {
        if caller.may(&tenant, Permission::ViewUsers) {
            e
        } else {
            // Whether a username exists is not told to callers who may not see it.
            Error::from(idp_shared::admin::forbidden())
        }
    })?;
    let own = caller.is_user(&tenant, &user.row.id);
    if !own {
        caller
            .require(&tenant, Permission::ViewUsers)
            .map_err(Error::from)?;
    }
    let name = user.row.username.clone();
    let mut tenants = state
        .ctx
        .db
        .run(move |conn| store::tenants_with_username(conn, &name))
        .await
        .map_err(Error::from)?;
    if !own {
        tenants.retain(|t| caller.may(t, Permission::ViewUsers));
    }
    Ok(kobil::ok(
        "Tenant list fetched successfully",
        Some(json!(tenants.join(","))),
    ))
}

/// `{requiredActions: [..]}` (Keycloak's aliases, or KOBIL's `update-password`) are removed.
async fn revoke_required_actions(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let mut user = by_username(&state, &tenant, &username).await?;
    let names = string_list(&body["requiredActions"], "requiredActions")?;
    if names.is_empty() {
        return Err(Error::Invalid("requiredActions must name at least one action".into()).into());
    }
    let actions: Vec<&str> = names
        .iter()
        .map(|n| {
            required_action(n)
                .ok_or_else(|| Error::Invalid(format!("unknown required action {n:?}")))
        })
        .collect::<Result<_, _>>()?;
    user.required_actions
        .retain(|a| !actions.contains(&a.as_str()));
    state
        .ctx
        .db
        .run(move |conn| store::update_user(conn, &user))
        .await
        .map_err(Error::from)?;
    Ok(kobil::ok(
        "User required actions revoked successfully",
        None,
    ))
}

/// The user of a path that KOBIL names `{userId}` but documents as the username: by
/// username, else by id.
async fn by_username_or_id(state: &State, tenant: &str, key: &str) -> Result<User, Error> {
    match by_username(state, tenant, key).await {
        Err(Error::UserNotFound) => load(state, tenant, key).await,
        other => other,
    }
}

/// `{realmRoles: [..], clientRoles: {clientId: [..]}}` are taken away (roles not held are
/// ignored; an unknown client is 400).
async fn revoke_roles(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, key) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username_or_id(&state, &tenant, &key).await?;
    let realm_roles = string_list(&body["realmRoles"], "realmRoles")?;
    let mut client_roles = Vec::new();
    for (client_id, roles) in client_role_names(&body["clientRoles"])? {
        let (app_id, _) = peers::app_by_client_id(&state, &tenant, &client_id)
            .await?
            .ok_or_else(|| Error::Invalid(format!("client {client_id} does not exist")))?;
        client_roles.push((app_id, roles));
    }
    let id = user.row.id.clone();
    state
        .ctx
        .db
        .run(move |conn| {
            store::remove_realm_roles(conn, &id, &realm_roles)?;
            for (app_id, roles) in &client_roles {
                store::remove_client_roles(conn, &id, app_id, roles)?;
            }
            Ok(())
        })
        .await
        .map_err(Error::from)?;
    Ok(kobil::ok("User roles revoked successfully", None))
}

/// Keycloak's credential metadata (never a hash), bare as KOBIL's reference shows.
async fn credentials(caller: Caller, state: web::Data<State>, path: UserPath) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    Ok(HttpResponse::Ok().json(peers::credentials(&state, &tenant, &user.row.id).await?))
}

/// The groups named by `{groups: [..]}` (names or paths), every one of which must exist.
async fn named_groups(state: &State, tenant: &str, body: &Value) -> Result<Vec<String>, Error> {
    let names = string_list(&body["groups"], "groups")?;
    if names.is_empty() {
        return Err(Error::Invalid("groups must name at least one group".into()));
    }
    groups_named(state, tenant, names).await
}

async fn join_groups(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    let grants = Grants {
        group_ids: named_groups(&state, &tenant, &body).await?,
        ..Grants::default()
    };
    let (t, id) = (tenant.clone(), user.row.id.clone());
    state
        .ctx
        .db
        .run(move |conn| store::grant(conn, &t, &id, &grants))
        .await
        .map_err(Error::from)?;
    Ok(kobil::ok("User group added successfully.", None))
}

async fn leave_groups(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let user = by_username(&state, &tenant, &username).await?;
    let group_ids = named_groups(&state, &tenant, &body).await?;
    let id = user.row.id.clone();
    state
        .ctx
        .db
        .run(move |conn| group_store::remove_members(conn, &group_ids, &id))
        .await
        .map_err(Error::from)?;
    Ok(kobil::ok("User group removed successfully.", None))
}
