//! What KOBIL's user routes share: the success envelope, KOBIL's user representation, lookup
//! by username, pages of users, and the roles and groups named in a body.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use crate::State;
use crate::error::Error;
use crate::model::{User, normalize_username};
use crate::peers;
use crate::query::{KobilPage, UserQuery};
use crate::store::{self, ClientRoleGrant, Grants, groups as group_store};

/// KOBIL's success envelope (subSystem 5: users); `data` only when there is some.
pub fn ok(message: &str, data: Option<Value>) -> HttpResponse {
    let mut body = json!({"message": message, "status": "OK", "subSystem": 5});
    if let Some(data) = data {
        body["data"] = data;
    }
    HttpResponse::Ok().json(body)
}

/// KOBIL's user: Keycloak's fields, the profile fields repeated in `attributes` (as its
/// samples show them), and whether the user is an administrator.
pub fn representation(user: &User, admin: bool) -> Value {
    let row = &user.row;
    let mut attributes: Map<String, Value> = user
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut rep = Map::new();
    rep.insert("admin".into(), json!(admin));
    rep.insert("id".into(), json!(row.id));
    rep.insert("username".into(), json!(row.username));
    attributes.insert("username".into(), json!([row.username]));
    for (key, value) in [
        ("email", &row.email),
        ("firstName", &row.first_name),
        ("lastName", &row.last_name),
    ] {
        if let Some(v) = value {
            rep.insert(key.into(), json!(v));
            attributes.insert(key.into(), json!([v]));
        }
    }
    rep.insert("attributes".into(), Value::Object(attributes));
    rep.insert("createdTimestamp".into(), json!(row.created_timestamp));
    rep.insert("emailVerified".into(), json!(row.email_verified));
    rep.insert("enabled".into(), json!(row.enabled));
    rep.insert("requiredActions".into(), json!(user.required_actions));
    Value::Object(rep)
}

/// The user named in a KOBIL path, or 404 USER_NOT_FOUND.
pub async fn by_username(state: &State, tenant: &str, username: &str) -> Result<User, Error> {
    let name = normalize_username(username).map_err(|_| Error::UserNotFound)?;
    let t = tenant.to_owned();
    state
        .ctx
        .db
        .run(move |conn| store::find_by_username(conn, &t, &name))
        .await?
        .ok_or(Error::UserNotFound)
}

/// Whether this user is a KOBIL administrator.
pub async fn is_admin(state: &State, user: &User) -> Result<bool, Error> {
    let (tenant, id) = (user.row.tenant.clone(), user.row.id.clone());
    let admins = state
        .ctx
        .db
        .run(move |conn| store::admins_among(conn, &tenant, std::slice::from_ref(&id)))
        .await?;
    Ok(!admins.is_empty())
}

/// A list of users with their admin flags, in one unit of work.
pub async fn users_with_admin_flags(state: &State, query: UserQuery) -> Result<Vec<Value>, Error> {
    let (users, _) = page_of(state, query, false).await?;
    Ok(users)
}

/// KOBIL's `{userList, page}` for one page of the query.
pub async fn page(state: &State, query: UserQuery, page: KobilPage) -> Result<Value, Error> {
    let (users, total) = page_of(state, query, true).await?;
    Ok(json!({"userList": users, "page": page.describe(total)}))
}

async fn page_of(
    state: &State,
    query: UserQuery,
    counted: bool,
) -> Result<(Vec<Value>, i64), Error> {
    let (users, total, admins) = state
        .ctx
        .db
        .run(move |conn| {
            let (users, total) = if counted {
                store::page_of_users(conn, &query)?
            } else {
                (store::list_users(conn, &query)?, 0)
            };
            let ids: Vec<String> = users.iter().map(|u| u.row.id.clone()).collect();
            let admins = store::admins_among(conn, &query.tenant, &ids)?;
            Ok((users, total, admins))
        })
        .await?;
    let reps = users
        .iter()
        .map(|u| representation(u, admins.contains(&u.row.id)))
        .collect();
    Ok((reps, total))
}

/// Strings of a list, nested lists flattened (KOBIL's sample sends `realmRoles: [[..]]`).
pub fn string_list(value: &Value, field: &str) -> Result<Vec<String>, Error> {
    fn collect(value: &Value, field: &str, out: &mut Vec<String>) -> Result<(), Error> {
        match value {
            Value::String(s) if !s.trim().is_empty() => {
                if !out.iter().any(|o| o == s.trim()) {
                    out.push(s.trim().to_owned());
                }
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|i| collect(i, field, out)),
            _ => Err(Error::Invalid(format!(
                "{field} must be a list of non-empty strings"
            ))),
        }
    }
    let mut out = Vec::new();
    match value {
        Value::Null => {}
        Value::Array(_) => collect(value, field, &mut out)?,
        _ => {
            return Err(Error::Invalid(format!("{field} must be a list of strings")));
        }
    }
    Ok(out)
}

/// `{clientId: [role, ..]}` as given.
pub fn client_role_names(value: &Value) -> Result<BTreeMap<String, Vec<String>>, Error> {
    match value {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(map) => map
            .iter()
            .map(|(client, roles)| Ok((client.clone(), string_list(roles, "clientRoles")?)))
            .collect(),
        _ => Err(Error::Invalid(
            "clientRoles must be an object of client ids to role lists".into(),
        )),
    }
}

/// The realm roles, client roles and groups a body names, every one checked to exist (400
/// naming the first that does not), so that nothing is stored for a body that is wrong.
pub async fn resolve_grants(state: &State, tenant: &str, body: &Value) -> Result<Grants, Error> {
    let realm_roles = string_list(&body["realmRoles"], "realmRoles")?;
    if !realm_roles.is_empty() {
        let known = peers::realm_roles(state, tenant).await?;
        if let Some(missing) = realm_roles
            .iter()
            .find(|n| !known.iter().any(|r| r["name"].as_str() == Some(n.as_str())))
        {
            return Err(Error::Invalid(format!(
                "realm role {missing} does not exist"
            )));
        }
    }
    let mut client_roles = Vec::new();
    for (client_id, roles) in client_role_names(&body["clientRoles"])? {
        let (app_id, known) = peers::app_by_client_id(state, tenant, &client_id)
            .await?
            .ok_or_else(|| Error::Invalid(format!("client {client_id} does not exist")))?;
        for role in roles {
            if !known.contains(&role) {
                return Err(Error::Invalid(format!(
                    "client {client_id} has no role {role}"
                )));
            }
            client_roles.push(ClientRoleGrant {
                app_id: app_id.clone(),
                client_id: client_id.clone(),
                role,
            });
        }
    }
    let group_names = string_list(&body["groups"], "groups")?;
    let group_ids = groups_named(state, tenant, group_names).await?;
    Ok(Grants {
        realm_roles,
        client_roles,
        group_ids,
    })
}

/// The ids of the named groups (see `store::groups::resolve_names`); 400 naming the unknown.
pub async fn groups_named(
    state: &State,
    tenant: &str,
    names: Vec<String>,
) -> Result<Vec<String>, Error> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let t = tenant.to_owned();
    let (found, missing) = state
        .ctx
        .db
        .run(move |conn| group_store::resolve_names(conn, &t, &names))
        .await?;
    if !missing.is_empty() {
        return Err(Error::Invalid(format!(
            "no such group: {}",
            missing.join(", ")
        )));
    }
    Ok(found.into_iter().map(|g| g.id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserInput;

    #[test]
    fn lists_are_flattened_and_checked() {
        assert_eq!(
            string_list(&json!([["admin", "x"], "admin"]), "realmRoles").unwrap(),
            vec!["admin", "x"]
        );
        assert!(string_list(&json!("admin"), "realmRoles").is_err());
        assert!(string_list(&json!([1]), "realmRoles").is_err());
        assert!(string_list(&json!([""]), "realmRoles").is_err());
        assert_eq!(
            string_list(&Value::Null, "g").unwrap(),
            Vec::<String>::new()
        );
        let roles = client_role_names(&json!({"app": ["a", "b"]})).unwrap();
        assert_eq!(roles["app"], vec!["a", "b"]);
        assert!(client_role_names(&json!(["app"])).is_err());
    }

    #[test]
    fn the_representation_repeats_the_profile_in_attributes() {
        let user = UserInput::parse(&json!({"username": "bob", "firstName": "Bob",
                                            "attributes": {"phone": ["1"]}}))
        .unwrap()
        .into_new_user("t", 1)
        .unwrap();
        let rep = representation(&user, true);
        assert_eq!(rep["admin"], true);
        assert_eq!(rep["attributes"]["firstName"], json!(["Bob"]));
        assert_eq!(rep["attributes"]["username"], json!(["bob"]));
        assert_eq!(rep["attributes"]["phone"], json!(["1"]));
        assert!(rep.get("email").is_none());
    }
}
