//! Creating, loading and removing users: the steps the admin routes, the internal routes and
//! the first start share.

use std::collections::BTreeMap;

use idp_shared::names::now_millis;
use serde_json::{Value, json};

use crate::State;
use crate::error::Error;
use crate::model::{User, UserInput, representation};
use crate::peers::{self, PasswordChange};
use crate::store::{self, Grants};

/// A password given with a new user (Keycloak's `credentials` entry).
#[derive(Debug, Clone)]
pub struct InitialPassword {
    pub value: String,
    pub temporary: bool,
}

/// Reads Keycloak's `credentials: [{type: "password", value, temporary}]`.
pub fn initial_password(body: &Value) -> Result<Option<InitialPassword>, Error> {
    let Some(list) = body.get("credentials").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let list = list
        .as_array()
        .ok_or_else(|| Error::Invalid("credentials must be a list".into()))?;
    let mut found = None;
    for item in list {
        let kind = item["type"].as_str().unwrap_or("password");
        if kind != "password" {
            return Err(Error::Invalid(format!(
                "credential type {kind:?} cannot be set here"
            )));
        }
        let value = item["value"]
            .as_str()
            .ok_or_else(|| Error::Invalid("a password credential needs a value".into()))?;
        found = Some(InitialPassword {
            value: value.to_owned(),
            temporary: item["temporary"].as_bool().unwrap_or(false),
        });
    }
    Ok(found)
}

/// 409 when the tenant forbids duplicate emails and another user has this one.
pub async fn check_email_free(
    state: &State,
    tenant: &str,
    email: Option<&str>,
    except: Option<&str>,
) -> Result<(), Error> {
    let Some(email) = email else { return Ok(()) };
    let realm = peers::realm(state, tenant).await?;
    if realm["duplicateEmailsAllowed"].as_bool().unwrap_or(false) {
        return Ok(());
    }
    let (t, e, x) = (
        tenant.to_owned(),
        email.to_owned(),
        except.map(str::to_owned),
    );
    let taken = state
        .ctx
        .db
        .run(move |conn| store::email_taken(conn, &t, &e, x.as_deref()))
        .await?;
    if taken {
        return Err(Error::Conflict("User exists with same email".into()));
    }
    Ok(())
}

/// Creates a user with its roles and groups and, when given, its password: if svc-login
/// refuses the password, the user is removed again and the refusal passed on.
pub async fn create_user(
    state: &State,
    tenant: &str,
    input: UserInput,
    grants: Grants,
    password: Option<InitialPassword>,
) -> Result<User, Error> {
    let user = input.into_new_user(tenant, now_millis())?;
    check_email_free(state, tenant, user.row.email.as_deref(), None).await?;
    let stored = user.clone();
    state
        .ctx
        .db
        .run(move |conn| store::insert_user(conn, &stored, &grants))
        .await?;
    if let Some(password) = password {
        let set = peers::set_password(
            state,
            PasswordChange {
                tenant,
                user_id: &user.row.id,
                value: &password.value,
                temporary: password.temporary,
                username: &user.row.username,
                email: user.row.email.as_deref(),
                reason: "create",
            },
        )
        .await;
        if let Err(e) = set {
            let (t, id) = (tenant.to_owned(), user.row.id.clone());
            state
                .ctx
                .db
                .run(move |conn| store::delete_user(conn, &t, &id))
                .await?;
            return Err(e);
        }
    }
    Ok(user)
}

/// The user, or 404 (also for ids that cannot be ids).
pub async fn load(state: &State, tenant: &str, id: &str) -> Result<User, Error> {
    if id.is_empty() || id.len() > 64 {
        return Err(Error::UserNotFound);
    }
    let (t, i) = (tenant.to_owned(), id.to_owned());
    state
        .ctx
        .db
        .run(move |conn| store::find_user(conn, &t, &i))
        .await?
        .ok_or(Error::UserNotFound)
}

/// What svc-auth puts in tokens: the user, its realm and client roles (direct and through
/// groups) and its group paths.
pub async fn token_view(state: &State, user: User) -> Result<Value, Error> {
    let (tenant, id) = (user.row.tenant.clone(), user.row.id.clone());
    let (realm_roles, client_roles, groups) = state
        .ctx
        .db
        .run(move |conn| {
            let mut realm = store::direct_realm_roles(conn, &id)?;
            let mut client = store::direct_client_roles(conn, &id)?;
            let (group_realm, group_client) = store::group_roles(conn, &tenant, &id)?;
            realm.extend(group_realm);
            client.extend(group_client);
            realm.sort();
            realm.dedup();
            let groups: Vec<String> = store::groups_of(conn, &id)?
                .into_iter()
                .map(|(_, path)| path)
                .collect();
            Ok((realm, client, groups))
        })
        .await?;
    let mut by_client: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for grant in client_roles {
        let roles = by_client.entry(grant.client_id).or_default();
        if !roles.contains(&grant.role) {
            roles.push(grant.role);
        }
    }
    Ok(json!({
        "user": representation(&user, false, false),
        "realmRoles": realm_roles,
        "clientRoles": by_client,
        "groups": groups,
    }))
}
