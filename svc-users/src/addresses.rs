//! KOBIL's postal address of a user: the fields its reference lists, checked, and the reply
//! as its sample shows it (every field a string, absent ones empty).

use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::store::addresses::AddressRow;

/// The text fields of an address, as KOBIL's request bodies name them.
pub const FIELDS: [&str; 13] = [
    "addressTitle",
    "addressType",
    "addressDetails",
    "postalCode",
    "city",
    "cityCode",
    "district",
    "districtCode",
    "town",
    "townCode",
    "directions",
    "firstName",
    "lastName",
];

/// Addresses one user may have.
pub const MAX_ADDRESSES: i64 = 20;
const MAX_FIELD: usize = 1024;

/// The fields a body gives: Some(None) clears a field (null or ""), absent ones are None.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressInput {
    pub fields: Map<String, Value>,
    pub cleared: Vec<String>,
    pub default_address: Option<bool>,
}

impl AddressInput {
    pub fn parse(body: &Value) -> Result<AddressInput, Error> {
        let Value::Object(body) = body else {
            return Err(Error::Invalid("the body must be an address object".into()));
        };
        let mut input = AddressInput::default();
        for field in FIELDS {
            // KOBIL's replies call it `direction`; either name is read.
            let value = match field {
                "directions" => body.get("directions").or_else(|| body.get("direction")),
                _ => body.get(field),
            };
            match value {
                None => {}
                Some(Value::Null) => input.cleared.push(field.to_owned()),
                Some(Value::String(s)) if s.trim().is_empty() => {
                    input.cleared.push(field.to_owned())
                }
                Some(Value::String(s)) if s.chars().count() > MAX_FIELD => {
                    return Err(Error::Invalid(format!(
                        "{field} is longer than {MAX_FIELD} characters"
                    )));
                }
                Some(Value::String(s)) => {
                    input.fields.insert(field.to_owned(), json!(s.trim()));
                }
                // Postal and area codes are often sent as numbers.
                Some(Value::Number(n)) => {
                    input.fields.insert(field.to_owned(), json!(n.to_string()));
                }
                Some(_) => return Err(Error::Invalid(format!("{field} must be a string"))),
            }
        }
        input.default_address = match body.get("defaultAddress") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            Some(_) => {
                return Err(Error::Invalid(
                    "defaultAddress must be true or false".into(),
                ));
            }
        };
        Ok(input)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.default_address.is_none()
    }

    /// The stored fields after this input: given ones set, cleared ones removed.
    pub fn apply(&self, stored: &str) -> String {
        let mut fields: Map<String, Value> = serde_json::from_str(stored).unwrap_or_default();
        for name in &self.cleared {
            fields.remove(name);
        }
        fields.extend(self.fields.clone());
        Value::Object(fields).to_string()
    }
}

/// The `addressID` a PUT or DELETE body names.
pub fn address_id(body: &Value) -> Result<String, Error> {
    body["addressID"]
        .as_str()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::Invalid("addressID is required".into()))
}

/// KOBIL's address: `addressID`, every field as a string ("" when absent), `direction` for
/// the directions, and `defaultAddress` as "true" or "false".
pub fn representation(address: &AddressRow) -> Value {
    let fields: Map<String, Value> = serde_json::from_str(&address.fields).unwrap_or_default();
    let mut rep = Map::new();
    rep.insert("addressID".into(), json!(address.id));
    for field in FIELDS {
        let value = fields.get(field).cloned().unwrap_or_else(|| json!(""));
        let key = if field == "directions" {
            "direction"
        } else {
            field
        };
        rep.insert(key.into(), value);
    }
    rep.insert(
        "defaultAddress".into(),
        json!(address.default_address.to_string()),
    );
    Value::Object(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_and_applied() {
        let input = AddressInput::parse(&json!({
            "city": " Worms ", "postalCode": 67547, "direction": "left", "defaultAddress": "true",
            "unknown": 1
        }))
        .unwrap();
        assert_eq!(input.default_address, Some(true));
        let stored = input.apply("{}");
        let fields: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(
            fields,
            json!({"city": "Worms", "postalCode": "67547", "directions": "left"})
        );
        let cleared = AddressInput::parse(&json!({"city": null, "town": "T"})).unwrap();
        let fields: Value = serde_json::from_str(&cleared.apply(&stored)).unwrap();
        assert_eq!(
            fields,
            json!({"postalCode": "67547", "directions": "left", "town": "T"})
        );
        for bad in [
            json!([]),
            json!({"city": ["x"]}),
            json!({"defaultAddress": "yes"}),
            json!({"town": "x".repeat(2000)}),
        ] {
            assert!(AddressInput::parse(&bad).is_err(), "{bad}");
        }
        assert!(AddressInput::parse(&json!({})).unwrap().is_empty());
        assert!(address_id(&json!({"addressID": " "})).is_err());
    }

    #[test]
    fn replies_follow_the_sample() {
        let row = AddressRow {
            id: "a1".into(),
            tenant: "t".into(),
            user_id: "u".into(),
            fields: json!({"city": "Worms", "directions": "left"}).to_string(),
            default_address: false,
            created_timestamp: 1,
        };
        let rep = representation(&row);
        assert_eq!(rep["addressID"], "a1");
        assert_eq!(rep["city"], "Worms");
        assert_eq!(rep["direction"], "left");
        assert_eq!(rep["town"], "");
        assert_eq!(rep["defaultAddress"], "false");
        assert!(rep.get("directions").is_none());
    }
}
