//! A group as Keycloak's admin API reads and writes it: names, the tree of representations,
//! and the checked fields of a create or update body.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::model::parse_attributes;
use crate::store::ClientRoleGrant;
use crate::store::groups::{GroupDetails, GroupRow};

const MAX_NAME: usize = 255;

/// A group name as stored: trimmed, 1 to 255 characters, no `/` (paths are built of names).
pub fn check_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::Invalid("Group name is missing".into()));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::Invalid(format!(
            "group names are at most {MAX_NAME} characters"
        )));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "group names cannot contain '/' or control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// The fields of a group body: `id` (an existing group to move), `name`, `attributes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub attributes: Option<BTreeMap<String, Vec<String>>>,
}

impl GroupInput {
    pub fn parse(body: &Value) -> Result<GroupInput, Error> {
        let Value::Object(body) = body else {
            return Err(Error::Invalid("the body must be a group object".into()));
        };
        let id = match body.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err(Error::Invalid("id must be a non-empty string".into())),
        };
        let name = match body.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(check_name(s)?),
            Some(_) => return Err(Error::Invalid("name must be a string".into())),
        };
        let attributes = match body.get("attributes") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_attributes(v)?),
        };
        Ok(GroupInput {
            id,
            name,
            attributes,
        })
    }
}

/// The path a group named `name` gets under `parent` (top level for None).
pub fn path_under(parent: Option<&GroupRow>, name: &str) -> String {
    match parent {
        Some(p) => format!("{}/{name}", p.path),
        None => format!("/{name}"),
    }
}

/// The 409 Keycloak answers when the path is taken.
pub fn name_taken(parent: Option<&GroupRow>, name: &str) -> Error {
    match parent {
        Some(_) => Error::Conflict(format!("Sibling group named '{name}' already exists.")),
        None => Error::Conflict(format!("Top level group named '{name}' already exists.")),
    }
}

/// Builds representations of `roots` with the loaded rows below them as `subGroups`.
pub struct Tree<'a> {
    children: HashMap<&'a str, Vec<&'a GroupRow>>,
    counts: &'a HashMap<String, i64>,
    details: Option<&'a GroupDetails>,
}

impl<'a> Tree<'a> {
    /// `below` are rows under the roots (any depth); `counts` the real number of children of
    /// each group; `details` when the full representation (attributes, roles) is wanted.
    pub fn new(
        below: &'a [GroupRow],
        counts: &'a HashMap<String, i64>,
        details: Option<&'a GroupDetails>,
    ) -> Tree<'a> {
        let mut children: HashMap<&str, Vec<&GroupRow>> = HashMap::new();
        for row in below {
            if let Some(parent) = &row.parent_id {
                children.entry(parent.as_str()).or_default().push(row);
            }
        }
        for list in children.values_mut() {
            list.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        }
        Tree {
            children,
            counts,
            details,
        }
    }

    pub fn representation(&self, group: &GroupRow) -> Value {
        let mut rep = flat_representation(group, self.details);
        let subgroups: Vec<Value> = self
            .children
            .get(group.id.as_str())
            .map(|list| list.iter().map(|c| self.representation(c)).collect())
            .unwrap_or_default();
        rep.insert(
            "subGroupCount".into(),
            json!(self.counts.get(&group.id).copied().unwrap_or(0)),
        );
        rep.insert("subGroups".into(), Value::Array(subgroups));
        Value::Object(rep)
    }
}

/// A group without its subgroups: id, name, path, parentId, and with `details` its
/// attributes, realm roles and client roles (Keycloak's full representation).
pub fn flat_representation(group: &GroupRow, details: Option<&GroupDetails>) -> Map<String, Value> {
    let mut rep = Map::new();
    rep.insert("id".into(), json!(group.id));
    rep.insert("name".into(), json!(group.name));
    rep.insert("path".into(), json!(group.path));
    if let Some(parent) = &group.parent_id {
        rep.insert("parentId".into(), json!(parent));
    }
    if let Some(details) = details {
        rep.insert(
            "attributes".into(),
            json!(
                details
                    .attributes
                    .get(&group.id)
                    .cloned()
                    .unwrap_or_default()
            ),
        );
        rep.insert(
            "realmRoles".into(),
            json!(
                details
                    .realm_roles
                    .get(&group.id)
                    .cloned()
                    .unwrap_or_default()
            ),
        );
        rep.insert(
            "clientRoles".into(),
            json!(client_roles_by_client(
                details
                    .client_roles
                    .get(&group.id)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
            )),
        );
    }
    rep
}

/// Client role grants as Keycloak's `{clientId: [role, ..]}`.
pub fn client_roles_by_client(grants: &[ClientRoleGrant]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for grant in grants {
        out.entry(grant.client_id.clone())
            .or_default()
            .push(grant.role.clone());
    }
    out
}

/// What an administrator may do with a group (Keycloak's `access`; roles decide it here).
pub fn access() -> Value {
    json!({"view": true, "viewMembers": true, "manageMembers": true, "manage": true,
           "manageMembership": true})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, parent: Option<&str>, path: &str) -> GroupRow {
        GroupRow {
            id: id.into(),
            tenant: "t".into(),
            name: path.rsplit('/').next().unwrap().into(),
            parent_id: parent.map(str::to_owned),
            path: path.into(),
        }
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("  staff ").unwrap(), "staff");
        for bad in ["", "  ", "a/b", "x\u{7}"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"g".repeat(256)).is_err());
        assert!(GroupInput::parse(&json!({"name": 5})).is_err());
        assert!(GroupInput::parse(&json!([])).is_err());
        let input = GroupInput::parse(&json!({"name": "a", "attributes": {"k": "v"}})).unwrap();
        assert_eq!(input.attributes.unwrap()["k"], vec!["v"]);
    }

    #[test]
    fn trees_nest_by_parent_and_sort_by_name() {
        let root = row("1", None, "/root");
        let below = vec![
            row("3", Some("1"), "/root/zeta"),
            row("2", Some("1"), "/root/alpha"),
            row("4", Some("2"), "/root/alpha/leaf"),
        ];
        let counts: HashMap<String, i64> = [("1".to_owned(), 2), ("2".to_owned(), 1)].into();
        let rep = Tree::new(&below, &counts, None).representation(&root);
        assert_eq!(rep["subGroupCount"], 2);
        assert_eq!(rep["subGroups"][0]["name"], "alpha");
        assert_eq!(
            rep["subGroups"][0]["subGroups"][0]["path"],
            "/root/alpha/leaf"
        );
        assert_eq!(rep["subGroups"][0]["parentId"], "1");
        assert_eq!(rep["subGroups"][1]["subGroups"], json!([]));
        assert!(rep.get("attributes").is_none());
        assert!(rep.get("parentId").is_none());
    }
}
