//! A user as stored, and as Keycloak's admin API reads and writes it.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::schema::users;

#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_null = true)]
pub struct UserRow {
    pub id: String,
    pub tenant: String,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub first_name_lower: Option<String>,
    pub last_name_lower: Option<String>,
    pub enabled: bool,
    pub email_verified: bool,
    pub created_timestamp: i64,
    pub not_before: i64,
    pub service_account_client_id: Option<String>,
}

/// A user with its attributes and required actions.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub row: UserRow,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub required_actions: Vec<String>,
}

/// Keycloak's required actions a user may be given.
pub const REQUIRED_ACTIONS: [&str; 6] = [
    "UPDATE_PASSWORD",
    "VERIFY_EMAIL",
    "CONFIGURE_TOTP",
    "UPDATE_PROFILE",
    "TERMS_AND_CONDITIONS",
    "UPDATE_EMAIL",
];

/// A required action by Keycloak's alias, also written as KOBIL writes it
/// (`update-password`).
pub fn required_action(name: &str) -> Option<&'static str> {
    let alias = name.trim().to_ascii_uppercase().replace('-', "_");
    REQUIRED_ACTIONS.iter().copied().find(|a| *a == alias)
}

const MAX_NAME: usize = 255;
pub const MAX_ATTRIBUTES: usize = 200;
const MAX_ATTRIBUTE_VALUE: usize = 2048;

/// Keycloak's user representation; `brief` leaves out attributes and access, as
/// `briefRepresentation=true` does.
pub fn representation(user: &User, totp: bool, brief: bool) -> Value {
    let row = &user.row;
    let mut rep = Map::new();
    rep.insert("id".into(), json!(row.id));
    rep.insert("createdTimestamp".into(), json!(row.created_timestamp));
    rep.insert("username".into(), json!(row.username));
    rep.insert("enabled".into(), json!(row.enabled));
    rep.insert("totp".into(), json!(totp));
    rep.insert("emailVerified".into(), json!(row.email_verified));
    for (key, value) in [
        ("firstName", &row.first_name),
        ("lastName", &row.last_name),
        ("email", &row.email),
    ] {
        if let Some(v) = value {
            rep.insert(key.into(), json!(v));
        }
    }
    if let Some(client) = &row.service_account_client_id {
        rep.insert("serviceAccountClientId".into(), json!(client));
    }
    if !brief {
        if !user.attributes.is_empty() {
            rep.insert("attributes".into(), json!(user.attributes));
        }
        rep.insert("disableableCredentialTypes".into(), json!([]));
        rep.insert("requiredActions".into(), json!(user.required_actions));
        rep.insert("notBefore".into(), json!(row.not_before));
        rep.insert(
            "access".into(),
            json!({"manageGroupMembership": true, "view": true, "mapRoles": true,
                   "impersonate": false, "manage": true}),
        );
    }
    Value::Object(rep)
}

/// The fields of a create or update body, checked. Absent fields are None (an update keeps
/// the stored value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInput {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub email_verified: Option<bool>,
    pub attributes: Option<BTreeMap<String, Vec<String>>>,
    pub required_actions: Option<Vec<String>>,
}

/// A username as stored: trimmed, lower-cased, Keycloak's characters only.
pub fn normalize_username(name: &str) -> Result<String, Error> {
    let name = name.trim().to_lowercase();
    if name.is_empty() {
        return Err(Error::Invalid("username is required".into()));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::Invalid(
            "username is longer than 255 characters".into(),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "<>&\"'$%!#?§;*~/\\|^=[]{}()".contains(c))
    {
        return Err(Error::Invalid(
            "username contains characters that are not allowed".into(),
        ));
    }
    Ok(name)
}

/// An email as stored: trimmed and lower-cased, one `@`, a dot in the domain, no spaces.
pub fn normalize_email(email: &str) -> Result<Option<String>, Error> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Ok(None);
    }
    let valid = email.len() <= MAX_NAME
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if !valid {
        return Err(Error::Invalid(format!("invalid email address {email:?}")));
    }
    Ok(Some(email))
}

fn optional_text(body: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, Error> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() > MAX_NAME => Err(Error::Invalid(format!(
            "{key} is longer than {MAX_NAME} characters"
        ))),
        Some(Value::String(s)) => Ok(Some((!s.trim().is_empty()).then(|| s.trim().to_owned()))),
        Some(_) => Err(Error::Invalid(format!("{key} must be a string"))),
    }
}

fn optional_bool(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, Error> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::Invalid(format!("{key} must be true or false"))),
    }
}

/// Attributes as Keycloak accepts them: each a list of strings (a single string is taken as
/// a list of one).
pub fn parse_attributes(value: &Value) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let Value::Object(map) = value else {
        return Err(Error::Invalid("attributes must be an object".into()));
    };
    if map.len() > MAX_ATTRIBUTES {
        return Err(Error::Invalid(format!(
            "at most {MAX_ATTRIBUTES} attributes per user"
        )));
    }
    let mut out = BTreeMap::new();
    for (name, values) in map {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(Error::Invalid(
                "attribute names are 1 to 255 characters".into(),
            ));
        }
        let list = match values {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    Value::Bool(b) => Ok(b.to_string()),
                    _ => Err(Error::Invalid(format!(
                        "attribute {name}: values must be strings"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Value::Null => Vec::new(),
            _ => {
                return Err(Error::Invalid(format!(
                    "attribute {name} must be a list of strings"
                )));
            }
        };
        if list.iter().any(|v| v.len() > MAX_ATTRIBUTE_VALUE) {
            return Err(Error::Invalid(format!(
                "attribute {name}: a value is longer than {MAX_ATTRIBUTE_VALUE} bytes"
            )));
        }
        out.insert(name.clone(), list);
    }
    Ok(out)
}

impl UserInput {
    pub fn parse(body: &Value) -> Result<UserInput, Error> {
        let Value::Object(body) = body else {
            return Err(Error::Invalid("the body must be a user object".into()));
        };
        let username = match body.get("username") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(normalize_username(s)?),
            Some(_) => return Err(Error::Invalid("username must be a string".into())),
        };
        let email = match optional_text(body, "email")? {
            Some(Some(e)) => Some(normalize_email(&e)?),
            other => other,
        };
        let required_actions = match body.get("requiredActions") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut actions = Vec::new();
                for item in items {
                    let action = item
                        .as_str()
                        .and_then(required_action)
                        .ok_or_else(|| Error::Invalid(format!("unknown required action {item}")))?;
                    if !actions.iter().any(|a| a == action) {
                        actions.push(action.to_owned());
                    }
                }
                Some(actions)
            }
            Some(_) => return Err(Error::Invalid("requiredActions must be a list".into())),
        };
        Ok(UserInput {
            username,
            email,
            first_name: optional_text(body, "firstName")?,
            last_name: optional_text(body, "lastName")?,
            enabled: optional_bool(body, "enabled")?,
            email_verified: optional_bool(body, "emailVerified")?,
            attributes: match body.get("attributes") {
                None | Some(Value::Null) => None,
                Some(v) => Some(parse_attributes(v)?),
            },
            required_actions,
        })
    }

    /// A new user of `tenant` from this input (username required).
    pub fn into_new_user(self, tenant: &str, now: i64) -> Result<User, Error> {
        let username = self
            .username
            .ok_or_else(|| Error::Invalid("username is required".into()))?;
        let first_name = self.first_name.flatten();
        let last_name = self.last_name.flatten();
        Ok(User {
            row: UserRow {
                id: uuid::Uuid::new_v4().to_string(),
                tenant: tenant.to_owned(),
                username,
                email: self.email.flatten(),
                first_name_lower: first_name.as_ref().map(|n| n.to_lowercase()),
                last_name_lower: last_name.as_ref().map(|n| n.to_lowercase()),
                first_name,
                last_name,
                enabled: self.enabled.unwrap_or(false),
                email_verified: self.email_verified.unwrap_or(false),
                created_timestamp: now,
                not_before: 0,
                service_account_client_id: None,
            },
            attributes: self.attributes.unwrap_or_default(),
            required_actions: self.required_actions.unwrap_or_default(),
        })
    }

    /// Applies this input to a stored user (what Keycloak's PUT does: given fields replace).
    pub fn apply(self, user: &mut User) {
        let row = &mut user.row;
        if let Some(username) = self.username {
            row.username = username;
        }
        if let Some(email) = self.email {
            if email != row.email {
                row.email_verified = false;
            }
            row.email = email;
        }
        if let Some(first) = self.first_name {
            row.first_name_lower = first.as_ref().map(|n| n.to_lowercase());
            row.first_name = first;
        }
        if let Some(last) = self.last_name {
            row.last_name_lower = last.as_ref().map(|n| n.to_lowercase());
            row.last_name = last;
        }
        if let Some(enabled) = self.enabled {
            row.enabled = enabled;
        }
        if let Some(verified) = self.email_verified {
            row.email_verified = verified;
        }
        if let Some(attributes) = self.attributes {
            user.attributes = attributes;
        }
        if let Some(actions) = self.required_actions {
            user.required_actions = actions;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails_are_normalized_and_checked() {
        assert_eq!(normalize_username("  Alice.Smith ").unwrap(), "alice.smith");
        assert!(normalize_username("").is_err());
        assert!(normalize_username("a b").is_err());
        assert!(normalize_username("a<script>").is_err());
        assert_eq!(
            normalize_email(" Alice@Example.COM").unwrap().as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(normalize_email("").unwrap(), None);
        for bad in [
            "alice",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_are_parsed_strictly() {
        let input = UserInput::parse(&json!({
            "username": "Bob", "email": "bob@example.com", "enabled": true,
            "attributes": {"dept": ["a", "b"], "level": "3"},
            "requiredActions": ["VERIFY_EMAIL", "VERIFY_EMAIL"]
        }))
        .unwrap();
        let user = input.into_new_user("acme", 5).unwrap();
        assert_eq!(user.row.username, "bob");
        assert_eq!(user.attributes["level"], vec!["3"]);
        assert_eq!(user.required_actions, vec!["VERIFY_EMAIL"]);
        assert_eq!(required_action("update-password"), Some("UPDATE_PASSWORD"));
        assert_eq!(required_action("fly"), None);
        assert!(user.row.enabled);
        for bad in [
            json!([]),
            json!({"username": 5}),
            json!({"enabled": "yes"}),
            json!({"email": "nope"}),
            json!({"attributes": ["x"]}),
            json!({"attributes": {"x": [{"y": 1}]}}),
            json!({"requiredActions": ["FLY"]}),
            json!({"firstName": "x".repeat(300)}),
        ] {
            assert!(UserInput::parse(&bad).is_err(), "{bad}");
        }
        assert!(
            UserInput::parse(&json!({}))
                .unwrap()
                .into_new_user("t", 0)
                .is_err()
        );
    }

    #[test]
    fn representations_follow_keycloak() {
        let user = UserInput::parse(&json!({"username": "eve", "firstName": "Eve"}))
            .unwrap()
            .into_new_user("acme", 7)
            .unwrap();
        let full = representation(&user, false, false);
        assert_eq!(full["username"], "eve");
        assert_eq!(full["createdTimestamp"], 7);
        assert_eq!(full["requiredActions"], json!([]));
        assert!(full.get("email").is_none());
        let brief = representation(&user, false, true);
        assert!(brief.get("access").is_none());
        assert_eq!(brief["firstName"], "Eve");
    }
}
