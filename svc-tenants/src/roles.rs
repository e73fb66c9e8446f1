//! Realm roles: the roles Keycloak gives a new realm, the checks a role write must pass, and
//! Keycloak's role representation.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::store::{NewRole, RoleRow};

pub const OFFLINE_ACCESS: &str = "offline_access";
pub const UMA_AUTHORIZATION: &str = "uma_authorization";
/// Realm roles of `master` that Keycloak has and other realms do not.
pub const ADMIN: &str = "admin";
pub const CREATE_REALM: &str = "create-realm";
pub const REALM_ADMIN: &str = "realm-admin";

/// Longest role name and description accepted (Keycloak's column sizes).
const MAX_NAME: usize = 255;
const MAX_DESCRIPTION: usize = 255;

/// The composite role every user of the realm gets (Keycloak's `defaultRole`).
pub fn default_roles_name(realm: &str) -> String {
    format!("default-roles-{realm}")
}

fn new_role(
    tenant_id: &str,
    name: &str,
    description: &str,
    composites: &[&str],
    now: i64,
) -> NewRole {
    NewRole {
        row: RoleRow {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_owned(),
            name: name.to_owned(),
            description: Some(description.to_owned()),
            attributes: "{}".to_owned(),
            created_at: now,
        },
        composites: composites.iter().map(|c| (*c).to_owned()).collect(),
    }
}

/// The realm roles Keycloak creates with a realm: `default-roles-{realm}` (holding
/// `offline_access` and `uma_authorization`) and those two; `master` also has `admin` (holding
/// `create-realm`), `create-realm` and `realm-admin`.
pub fn realm_defaults(realm: &str, tenant_id: &str, now: i64) -> Vec<NewRole> {
    let mut roles = vec![
        new_role(
            tenant_id,
            OFFLINE_ACCESS,
            "${role_offline-access}",
            &[],
            now,
        ),
        new_role(
            tenant_id,
            UMA_AUTHORIZATION,
            "${role_uma_authorization}",
            &[],
            now,
        ),
        new_role(
            tenant_id,
            &default_roles_name(realm),
            "${role_default-roles}",
            &[OFFLINE_ACCESS, UMA_AUTHORIZATION],
            now,
        ),
    ];
    if realm == crate::MASTER {
        roles.push(new_role(
            tenant_id,
            CREATE_REALM,
            "${role_create-realm}",
            &[],
            now,
        ));
        roles.push(new_role(
            tenant_id,
            ADMIN,
            "${role_admin}",
            &[CREATE_REALM],
            now,
        ));
        roles.push(new_role(
            tenant_id,
            REALM_ADMIN,
            "${role_realm-admin}",
            &[],
            now,
        ));
    }
    roles
}

/// The realm roles a tenant made through the KOBIL API also has: its admin user holds them
/// (they make a user an administrator of the tenant, see `idp_shared::admin`).
pub fn tenant_admin_roles(tenant_id: &str, now: i64) -> Vec<NewRole> {
    vec![
        new_role(tenant_id, ADMIN, "${role_admin}", &[], now),
        new_role(tenant_id, REALM_ADMIN, "${role_realm-admin}", &[], now),
    ]
}

/// Roles that cannot be deleted or renamed: the realm's default role, and `master`'s `admin`
/// (every master administrator's right hangs on it).
pub fn is_protected(realm: &str, name: &str) -> bool {
    name == default_roles_name(realm) || (realm == crate::MASTER && name == ADMIN)
}

/// Keycloak's role representation. `composites` are the names of the realm roles a composite
/// role holds; `brief` leaves out the attributes, as Keycloak's role lists do by default.
pub fn representation(role: &RoleRow, composites: &[String], brief: bool) -> Value {
    let mut rep = Map::new();
    rep.insert("id".into(), json!(role.id));
    rep.insert("name".into(), json!(role.name));
    // Keycloak leaves null fields out of its replies.
    if let Some(d) = &role.description {
        rep.insert("description".into(), json!(d));
    }
    rep.insert("composite".into(), json!(!composites.is_empty()));
    rep.insert("clientRole".into(), json!(false));
    rep.insert("containerId".into(), json!(role.tenant_id));
    if !brief {
        let attributes: Value =
            serde_json::from_str(&role.attributes).unwrap_or_else(|_| json!({}));
        rep.insert("attributes".into(), attributes);
    }
    Value::Object(rep)
}

/// The representation with the composite's children as Keycloak's `composites` object.
pub fn representation_with_composites(role: &RoleRow, composites: &[String]) -> Value {
    let mut rep = representation(role, composites, false);
    if !composites.is_empty()
        && let Value::Object(map) = &mut rep
    {
        map.insert("composites".into(), json!({ "realm": composites }));
    }
    rep
}

/// Each role's children's names, from `(parent id, child id)` links.
pub fn children_by_role(
    roles: &[RoleRow],
    links: &[(String, String)],
) -> HashMap<String, Vec<String>> {
    let names: HashMap<&str, &str> = roles
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (parent, child) in links {
        if let Some(name) = names.get(child.as_str()) {
            out.entry(parent.clone())
                .or_default()
                .push((*name).to_owned());
        }
    }
    for children in out.values_mut() {
        children.sort();
    }
    out
}

/// Checks a role name: 1-255 characters, no `/` (it travels in paths), no control
/// characters, no surrounding spaces.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!("a role name has 1 to {MAX_NAME} characters"));
    }
    if name.contains('/') || name.chars().any(char::is_control) || name.trim() != name {
        return Err(format!(
            "invalid role name {name:?}: no '/', control characters or surrounding spaces"
        ));
    }
    Ok(())
}

/// What a role write (Keycloak's role representation) asks for.
#[derive(Debug, Default, PartialEq)]
pub struct RoleInput {
    pub name: Option<String>,
    /// `Some(None)`: cleared.
    pub description: Option<Option<String>>,
    pub attributes: Option<Map<String, Value>>,
    /// Names of realm roles the role is to hold.
    pub composites: Vec<String>,
}

/// Reads a role representation: the fields' types are checked, attributes become Keycloak's
/// name -> [values]. Fields Keycloak computes (`id`, `composite`, `containerId`, ...) are
/// ignored.
pub fn parse_input(body: &Value) -> Result<RoleInput, String> {
    let Value::Object(body) = body else {
        return Err("the role must be a JSON object".into());
    };
    let mut input = RoleInput::default();
    match body.get("name") {
        None | Some(Value::Null) => {}
        Some(Value::String(n)) => {
            check_name(n)?;
            input.name = Some(n.clone());
        }
        Some(_) => return Err("name must be a string".into()),
    }
    match body.get("description") {
        None => {}
        Some(Value::Null) => input.description = Some(None),
        Some(Value::String(d)) if d.chars().count() <= MAX_DESCRIPTION => {
            input.description = Some(Some(d.clone()))
        }
        Some(Value::String(_)) => {
            return Err(format!(
                "description has at most {MAX_DESCRIPTION} characters"
            ));
        }
        Some(_) => return Err("description must be a string".into()),
    }
    match body.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(attrs)) => {
            let mut out = Map::new();
            for (k, v) in attrs {
                let values = match v {
                    Value::String(s) => vec![Value::String(s.clone())],
                    Value::Array(items) if items.iter().all(Value::is_string) => items.clone(),
                    _ => {
                        return Err(format!("attribute {k:?} must be a list of strings"));
                    }
                };
                out.insert(k.clone(), Value::Array(values));
            }
            input.attributes = Some(out);
        }
        Some(_) => return Err("attributes must be an object of string lists".into()),
    }
    match body.get("composites") {
        None | Some(Value::Null) => {}
        Some(Value::Object(c)) => {
            match c.get("realm") {
                None | Some(Value::Null) => {}
                Some(Value::Array(names)) => {
                    for n in names {
                        let Some(n) = n.as_str() else {
                            return Err("composites.realm must be a list of role names".into());
                        };
                        input.composites.push(n.to_owned());
                    }
                }
                Some(_) => return Err("composites.realm must be a list of role names".into()),
            }
            if c.get("client")
                .is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
            {
                return Err("composite realm roles hold realm roles only".into());
            }
        }
        Some(_) => return Err("composites must be an object".into()),
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_realms_get_keycloaks_roles() {
        let names = |realm: &str| -> Vec<String> {
            realm_defaults(realm, "t1", 1)
                .into_iter()
                .map(|r| r.row.name)
                .collect()
        };
        assert_eq!(
            names("acme"),
            ["offline_access", "uma_authorization", "default-roles-acme"]
        );
        let master = names("master");
        for n in [
            "admin",
            "create-realm",
            "realm-admin",
            "default-roles-master",
        ] {
            assert!(master.contains(&n.to_owned()), "{n}");
        }
        let defaults = realm_defaults("acme", "t1", 1);
        assert_eq!(
            defaults[2].composites,
            ["offline_access", "uma_authorization"]
        );
    }

    #[test]
    fn role_input_is_checked() {
        let ok = parse_input(
            &json!({"name": "editor", "description": "d", "attributes": {"a": "x", "b": ["y"]}}),
        )
        .unwrap();
        assert_eq!(ok.name.as_deref(), Some("editor"));
        assert_eq!(ok.attributes.unwrap()["a"], json!(["x"]));
        for bad in [
            json!([]),
            json!({"name": 5}),
            json!({"name": "a/b"}),
            json!({"name": ""}),
            json!({"name": " x"}),
            json!({"attributes": {"a": 1}}),
            json!({"attributes": []}),
            json!({"composites": {"realm": [1]}}),
            json!({"composites": {"client": {"app": ["r"]}}}),
        ] {
            assert!(parse_input(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_representation_is_keycloaks() {
        let role = &realm_defaults("acme", "t1", 1)[2].row;
        let rep = representation(role, &["offline_access".into()], true);
        assert_eq!(rep["composite"], true);
        assert_eq!(rep["clientRole"], false);
        assert_eq!(rep["containerId"], "t1");
        assert!(rep.get("attributes").is_none());
        let full = representation_with_composites(role, &["offline_access".into()]);
        assert_eq!(full["composites"]["realm"], json!(["offline_access"]));
        assert_eq!(full["attributes"], json!({}));
    }
}
