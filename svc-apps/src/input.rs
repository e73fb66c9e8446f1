//! The checks a client write must pass, and how a Keycloak client representation changes an
//! app. Keycloak's update is partial: absent and null fields stay as they are.

use serde_json::{Map, Value};

use crate::client;
use crate::store::App;

/// Largest client representation stored (the JSON text of its attributes).
pub const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;
const MAX_URI: usize = 2048;
const MAX_TEXT: usize = 255;
const MAX_SECRET: usize = 512;
/// Redirect URIs and web origins per client.
const MAX_URIS: usize = 100;

/// Fields kept in columns or child tables, or computed, never stored as attributes.
const NOT_ATTRIBUTES: [&str; 14] = [
    "id",
    "clientId",
    "secret",
    "enabled",
    "publicClient",
    "bearerOnly",
    "standardFlowEnabled",
    "implicitFlowEnabled",
    "directAccessGrantsEnabled",
    "serviceAccountsEnabled",
    "redirectUris",
    "webOrigins",
    "access",
    "registrationAccessToken",
];

/// URI schemes a browser would run instead of navigate to.
const SCRIPT_SCHEMES: [&str; 3] = ["javascript", "data", "vbscript"];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn plain_text(key: &str, s: &str, max: usize) -> Result<(), String> {
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(format!(
            "{key} has at most {max} characters and no control characters"
        ));
    }
    Ok(())
}

/// A client id: 1-255 characters, no control characters, no surrounding spaces.
pub fn check_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.trim() != id {
        return Err("clientId must not be empty or start or end with spaces".into());
    }
    plain_text("clientId", id, MAX_TEXT)
}

/// An internal id a creator chooses: 1-36 letters, digits, `-` or `_`.
pub fn check_internal_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 36
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err("id must have 1-36 letters, digits, '-' or '_'".into())
    }
}

/// The scheme of an absolute URI (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`).
fn scheme_of(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// `scheme://host[:port]...` with a host that is not empty and has no wildcard.
fn has_host(uri: &str) -> bool {
    let Some(rest) = uri.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    !host.is_empty() && !host.starts_with(':') && !host.contains('*')
}

/// An absolute `http(s)` URL, or one of Keycloak's `${authBaseUrl}`-style placeholders.
fn check_root_url(url: &str) -> Result<(), String> {
    plain_text("rootUrl", url, MAX_URI)?;
    if url.is_empty() || url.starts_with("${auth") {
        return Ok(());
    }
    match scheme_of(url).map(str::to_ascii_lowercase).as_deref() {
        Some("http" | "https") if has_host(url) => Ok(()),
        _ => Err(format!("rootUrl {url:?} must be an absolute http(s) URL")),
    }
}

/// A redirect URI as Keycloak accepts it, made strict: absolute (a relative one only when the
/// client has a root URL it is resolved against), no fragment, a `*` wildcard only at the end,
/// no script schemes.
pub fn check_redirect_uri(uri: &str, has_root_url: bool) -> Result<(), String> {
    if uri.is_empty() || uri.len() > MAX_URI || uri.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "redirect URI {uri:?} must be 1-{MAX_URI} characters without spaces"
        ));
    }
    if uri.contains('#') {
        return Err(format!("redirect URI {uri:?} must not have a fragment"));
    }
    if uri.find('*').is_some_and(|i| i != uri.len() - 1) {
        return Err(format!(
            "redirect URI {uri:?}: a '*' wildcard is allowed only at the end"
        ));
    }
    if uri.starts_with('/') && !uri.starts_with("//") {
        return if has_root_url {
            Ok(())
        } else {
            Err(format!(
                "redirect URI {uri:?} is relative: give an absolute URI, or a rootUrl"
            ))
        };
    }
    let Some(scheme) = scheme_of(uri).map(str::to_ascii_lowercase) else {
        return Err(format!("redirect URI {uri:?} must be an absolute URI"));
    };
    if SCRIPT_SCHEMES.contains(&scheme.as_str()) {
        return Err(format!(
            "redirect URI {uri:?}: scheme {scheme} is not allowed"
        ));
    }
    if (scheme == "http" || scheme == "https") && !has_host(uri) {
        return Err(format!("redirect URI {uri:?} must name a host"));
    }
    if uri.len() == scheme.len() + 1 {
        return Err(format!("redirect URI {uri:?} is only a scheme"));
    }
    Ok(())
}

/// A web origin: `+` (the redirect URIs' origins), `*`, or `http(s)://host[:port]`.
pub fn check_web_origin(origin: &str) -> Result<(), String> {
    if origin == "+" || origin == "*" {
        return Ok(());
    }
    let scheme = scheme_of(origin).map(str::to_ascii_lowercase);
    let after = origin.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let ok = matches!(scheme.as_deref(), Some("http" | "https"))
        && has_host(origin)
        && !after.contains(['/', '?', '#', ' ', '*'])
        && origin.len() <= MAX_URI;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "web origin {origin:?} must be '+', '*' or scheme://host[:port] without a path"
        ))
    }
}

fn string_list(key: &str, v: &Value, max: usize) -> Result<Vec<String>, String> {
    let Value::Array(items) = v else {
        return Err(format!("{key} must be a list of strings"));
    };
    if items.len() > max {
        return Err(format!("{key} has at most {max} entries"));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Some(s) = item.as_str() else {
            return Err(format!("{key} must be a list of strings"));
        };
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

fn optional_bool(fields: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{key} must be a boolean")),
    }
}

fn check_mappers(v: &Value) -> Result<Value, String> {
    let Value::Array(items) = v else {
        return Err("protocolMappers must be a list".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(m) = item else {
            return Err("each protocol mapper must be an object".into());
        };
        for key in ["name", "protocolMapper"] {
            match m.get(key) {
                Some(Value::String(s)) if !s.is_empty() => plain_text(key, s, MAX_TEXT)?,
                _ => return Err(format!("each protocol mapper needs a {key}")),
            }
        }
        if let Some(config) = m.get("config")
            && !config.is_null()
            && !config
                .as_object()
                .is_some_and(|c| c.values().all(|v| !v.is_object() && !v.is_array()))
        {
            return Err("a protocol mapper's config maps names to strings".into());
        }
        let mut m = m.clone();
        if !m.get("id").is_some_and(Value::is_string) {
            m.insert("id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
        }
        m.entry("protocol")
            .or_insert_with(|| Value::String("openid-connect".into()));
        out.push(Value::Object(m));
    }
    Ok(Value::Array(out))
}

/// Applies a client representation to `app` (a new app or a stored one). Returns the secret
/// the body sets, if any; the caller seals it or generates one.
pub fn apply(app: &mut App, fields: &Map<String, Value>) -> Result<Option<String>, String> {
    let defaults = client::defaults();
    if let Some(v) = fields.get("clientId").filter(|v| !v.is_null()) {
        let Some(id) = v.as_str() else {
            return Err("clientId must be a string".into());
        };
        check_client_id(id)?;
        app.row.client_id = id.to_owned();
    }
    let r = &mut app.row;
    for (key, slot) in [
        ("enabled", &mut r.enabled),
        ("publicClient", &mut r.public_client),
        ("bearerOnly", &mut r.bearer_only),
        ("standardFlowEnabled", &mut r.standard_flow_enabled),
        ("implicitFlowEnabled", &mut r.implicit_flow_enabled),
        (
            "directAccessGrantsEnabled",
            &mut r.direct_access_grants_enabled,
        ),
        ("serviceAccountsEnabled", &mut r.service_accounts_enabled),
    ] {
        if let Some(b) = optional_bool(fields, key)? {
            *slot = b;
        }
    }
    let secret = match fields.get("secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_SECRET => {
            if s.chars().any(char::is_control) {
                return Err("secret must not have control characters".into());
            }
            Some(s.clone())
        }
        Some(Value::String(_)) => {
            return Err(format!("secret has 1 to {MAX_SECRET} characters"));
        }
        Some(_) => return Err("secret must be a string".into()),
    };

    for (key, value) in fields {
        if NOT_ATTRIBUTES.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        let checked = match key.as_str() {
            "attributes" => {
                let Value::Object(new) = value else {
                    return Err("attributes must be an object".into());
                };
                let mut merged = app
                    .attributes
                    .get("attributes")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (k, v) in new {
                    match v {
                        Value::Null => {
                            merged.remove(k);
                        }
                        Value::String(_) | Value::Bool(_) | Value::Number(_) => {
                            merged.insert(k.clone(), v.clone());
                        }
                        _ => {
                            return Err(format!(
                                "attribute {k:?} must be a string, number or boolean"
                            ));
                        }
                    }
                }
                Value::Object(merged)
            }
            "protocolMappers" => check_mappers(value)?,
            "authenticationFlowBindingOverrides" => {
                if !value
                    .as_object()
                    .is_some_and(|m| m.values().all(Value::is_string))
                {
                    return Err(
                        "authenticationFlowBindingOverrides maps flow names to flow ids".into(),
                    );
                }
                value.clone()
            }
            "defaultClientScopes" | "optionalClientScopes" => {
                Value::from(string_list(key, value, MAX_URIS)?)
            }
            "rootUrl" => {
                let Some(url) = value.as_str() else {
                    return Err("rootUrl must be a string".into());
                };
                check_root_url(url)?;
                value.clone()
            }
            "baseUrl" | "adminUrl" => {
                let Some(url) = value.as_str() else {
                    return Err(format!("{key} must be a string"));
                };
                plain_text(key, url, MAX_URI)?;
                value.clone()
            }
            "name" | "description" => {
                let Some(text) = value.as_str() else {
                    return Err(format!("{key} must be a string"));
                };
                plain_text(key, text, if key == "name" { MAX_TEXT } else { 4000 })?;
                value.clone()
            }
            _ => {
                if let Some(default) = defaults.get(key)
                    && !default.is_null()
                    && kind(default) != kind(value)
                {
                    return Err(format!(
                        "{key} must be a {}, not a {}",
                        kind(default),
                        kind(value)
                    ));
                }
                value.clone()
            }
        };
        app.attributes.insert(key.clone(), checked);
    }

    if let Some(v) = fields.get("redirectUris").filter(|v| !v.is_null()) {
        app.redirect_uris = string_list("redirectUris", v, MAX_URIS)?;
    }
    if let Some(v) = fields.get("webOrigins").filter(|v| !v.is_null()) {
        app.web_origins = string_list("webOrigins", v, MAX_URIS)?;
    }
    let has_root_url = app
        .attributes
        .get("rootUrl")
        .and_then(Value::as_str)
        .is_some_and(|u| !u.is_empty());
    for uri in &app.redirect_uris {
        check_redirect_uri(uri, has_root_url)?;
    }
    for origin in &app.web_origins {
        check_web_origin(origin)?;
    }
    let size = Value::Object(app.attributes.clone()).to_string().len();
    if size > MAX_ATTRIBUTES_BYTES {
        return Err(format!(
            "the client representation is {size} bytes; at most {MAX_ATTRIBUTES_BYTES} are stored"
        ));
    }
    Ok(secret)
}

/// What a client-role write asks for.
#[derive(Debug, Default, PartialEq)]
pub struct RoleInput {
    pub name: Option<String>,
    /// `Some(None)`: cleared.
    pub description: Option<Option<String>>,
    pub attributes: Option<Map<String, Value>>,
}

/// A role name: 1-255 characters, no `/`, control characters or surrounding spaces.
pub fn check_role_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.trim() != name || name.contains('/') {
        return Err(format!(
            "invalid role name {name:?}: 1-255 characters, no '/' or surrounding spaces"
        ));
    }
    plain_text("the role name", name, MAX_TEXT)
}

/// Reads Keycloak's role representation (name, description, attributes as name -> [values]).
pub fn parse_role(body: &Value) -> Result<RoleInput, String> {
    let Value::Object(body) = body else {
        return Err("the role must be a JSON object".into());
    };
    let mut input = RoleInput::default();
    match body.get("name") {
        None | Some(Value::Null) => {}
        Some(Value::String(n)) => {
            check_role_name(n)?;
            input.name = Some(n.clone());
        }
        Some(_) => return Err("name must be a string".into()),
    }
    match body.get("description") {
        None => {}
        Some(Value::Null) => input.description = Some(None),
        Some(Value::String(d)) => {
            plain_text("description", d, MAX_TEXT)?;
            input.description = Some(Some(d.clone()));
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
                    _ => return Err(format!("attribute {k:?} must be a list of strings")),
                };
                out.insert(k.clone(), Value::Array(values));
            }
            input.attributes = Some(out);
        }
        Some(_) => return Err("attributes must be an object of string lists".into()),
    }
    if body
        .get("composites")
        .and_then(Value::as_object)
        .is_some_and(|c| c.values().any(|v| !v.is_null()))
    {
        return Err("composite client roles are not supported".into());
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Switches, new_app};
    use serde_json::json;

    fn app() -> App {
        new_app("acme", "web", Switches::default(), Map::new(), &[], 1)
    }

    #[test]
    fn redirect_uris_must_be_absolute_and_safe() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com/*",
            "http://localhost:8080/callback?x=1",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_redirect_uri(ok, false).is_ok(), "{ok}");
        }
        assert!(check_redirect_uri("/relative/*", true).is_ok());
        for bad in [
            "/relative",
            "*",
            "+",
            "relative/path",
            "https://*.example.com/cb",
            "https://app.example.com/*/cb",
            "https://app.example.com/cb#frag",
            "javascript:alert(1)",
            "https:///nohost",
            "https://app.example.com/a b",
            "",
        ] {
            assert!(check_redirect_uri(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn web_origins_are_origins() {
        for ok in ["+", "*", "https://app.example.com", "http://localhost:3000"] {
            assert!(check_web_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://app.example.com/",
            "app.example.com",
            "ftp://x",
            "https://*.x.com",
        ] {
            assert!(check_web_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_representation_changes_the_app() {
        let mut a = app();
        let body = json!({
            "clientId": "web2",
            "publicClient": true,
            "redirectUris": ["https://x.example/cb", "https://x.example/cb"],
            "webOrigins": ["+"],
            "attributes": {"pkce.code.challenge.method": "S256"},
            "protocolMappers": [{"name": "aud", "protocolMapper": "oidc-audience-mapper", "config": {}}],
            "description": "d",
            "secret": "s3cret-value",
            "customField": [1],
        });
        let secret = apply(&mut a, body.as_object().unwrap()).unwrap();
        assert_eq!(secret.as_deref(), Some("s3cret-value"));
        assert_eq!(a.row.client_id, "web2");
        assert!(a.row.public_client);
        assert_eq!(a.redirect_uris, ["https://x.example/cb"]);
        assert_eq!(
            a.attributes["attributes"]["pkce.code.challenge.method"],
            "S256"
        );
        assert!(a.attributes["protocolMappers"][0]["id"].is_string());
        assert_eq!(a.attributes["customField"], json!([1]));
        assert!(!a.attributes.contains_key("secret"));

        // Partial: absent fields stay, null attribute values remove.
        let more =
            json!({"attributes": {"pkce.code.challenge.method": null, "x": "1"}, "enabled": null});
        apply(&mut a, more.as_object().unwrap()).unwrap();
        assert_eq!(a.attributes["attributes"], json!({"x": "1"}));
        assert!(a.row.enabled && a.row.public_client);
    }

    #[test]
    fn bad_representations_are_refused() {
        for bad in [
            json!({"clientId": ""}),
            json!({"clientId": 5}),
            json!({"enabled": "yes"}),
            json!({"redirectUris": "https://x.example/cb"}),
            json!({"redirectUris": ["/cb"]}),
            json!({"webOrigins": ["https://x.example/path"]}),
            json!({"attributes": {"a": {"b": 1}}}),
            json!({"protocolMappers": [{"name": "x"}]}),
            json!({"rootUrl": "not a url"}),
            json!({"consentRequired": "no"}),
            json!({"secret": ""}),
            json!({"defaultClientScopes": [1]}),
        ] {
            assert!(
                apply(&mut app(), bad.as_object().unwrap()).is_err(),
                "{bad}"
            );
        }
        let with_root = json!({"rootUrl": "https://x.example", "redirectUris": ["/cb/*"]});
        assert!(apply(&mut app(), with_root.as_object().unwrap()).is_ok());
    }

    #[test]
    fn roles_are_checked() {
        assert_eq!(
            parse_role(&json!({"name": "reader"}))
                .unwrap()
                .name
                .as_deref(),
            Some("reader")
        );
        for bad in [
            json!({"name": "a/b"}),
            json!({"name": 1}),
            json!({"attributes": {"a": 1}}),
            json!([]),
        ] {
            assert!(parse_role(&bad).is_err(), "{bad}");
        }
    }
}
