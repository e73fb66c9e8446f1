//! A tenant's SMTP configuration: KOBIL's fields (strings in its samples: `"port": "587"`,
//! `"ssl": "true"`; JSON numbers and booleans are taken too), checked, the password sealed.

use std::net::IpAddr;

use idp_shared::security::SecretBox;
use serde_json::{Map, Value, json};

use crate::mail::address;
use crate::store::mail::MailConfigRow;

/// What Keycloak's admin console sends back for a password it was shown masked.
pub const MASKED: &str = "**********";

const FIELDS: [&str; 12] = [
    "host",
    "port",
    "from",
    "fromDisplayName",
    "replyTo",
    "replyToDisplayName",
    "envelopeFrom",
    "ssl",
    "starttls",
    "auth",
    "user",
    "password",
];
const MAX_DISPLAY_NAME: usize = 200;
const MAX_USER: usize = 320;
const MAX_PASSWORD: usize = 1024;

/// The sealing context of a tenant's SMTP password.
pub fn password_context(tenant: &str) -> String {
    format!("smtp-password:{tenant}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Password {
    /// Absent, null or the mask: the stored one stays.
    Keep,
    /// Empty: none from now on.
    Clear,
    Set(String),
}

fn text(fields: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > max || s.chars().any(char::is_control) {
                return Err(format!(
                    "{key} must have at most {max} characters and no control characters"
                ));
            }
            Ok((!s.is_empty()).then(|| s.to_owned()))
        }
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn flag(fields: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => {
            Ok(Some(false))
        }
        Some(_) => Err(format!("{key} must be true or false")),
    }
}

fn email(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    text(fields, key, 254)?
        .map(|v| address(key, &v).map(|a| a.to_string()))
        .transpose()
}

fn port(fields: &Map<String, Value>) -> Result<u16, String> {
    let n = match fields.get("port") {
        None | Some(Value::Null) => return Err("port is required".into()),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    n.filter(|n| (1..=65535).contains(n))
        .map(|n| n as u16)
        .ok_or_else(|| "port must be a whole number from 1 to 65535".into())
}

/// A host name (letters, digits and hyphens in dot-separated labels) or an IP address.
fn host(fields: &Map<String, Value>) -> Result<String, String> {
    let host = text(fields, "host", 253)?.ok_or("host is required")?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(bare.to_owned());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.trim_end_matches('.').split('.').all(label_ok) {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(format!(
            "host must be a host name or an IP address, not {host:?}"
        ))
    }
}

/// The configuration a setup request asks for, checked, before its password is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    host: String,
    port: u16,
    from: String,
    from_display_name: Option<String>,
    reply_to: Option<String>,
    reply_to_display_name: Option<String>,
    envelope_from: Option<String>,
    ssl: bool,
    starttls: bool,
    auth: bool,
    user: Option<String>,
    password: Password,
}

impl Setup {
    pub fn parse(body: &Value) -> Result<Setup, String> {
        let Value::Object(fields) = body else {
            return Err("the SMTP configuration must be a JSON object".into());
        };
        if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "unknown field {unknown:?}; the fields are {}",
                FIELDS.join(", ")
            ));
        }
        let user = text(fields, "user", MAX_USER)?;
        let password = match fields.get("password") {
            None | Some(Value::Null) => Password::Keep,
            Some(Value::String(s)) if s == MASKED => Password::Keep,
            Some(Value::String(s)) if s.is_empty() => Password::Clear,
            Some(Value::String(s)) if s.chars().count() <= MAX_PASSWORD => Password::Set(s.clone()),
            Some(Value::String(_)) => {
                return Err(format!("password has at most {MAX_PASSWORD} characters"));
            }
            Some(_) => return Err("password must be a string".into()),
        };
        Ok(Setup {
            host: host(fields)?,
            port: port(fields)?,
            from: email(fields, "from")?.ok_or("from is required (an email address)")?,
            from_display_name: text(fields, "fromDisplayName", MAX_DISPLAY_NAME)?,
            reply_to: email(fields, "replyTo")?,
            reply_to_display_name: text(fields, "replyToDisplayName", MAX_DISPLAY_NAME)?,
            envelope_from: email(fields, "envelopeFrom")?,
            ssl: flag(fields, "ssl")?.unwrap_or(false),
            starttls: flag(fields, "starttls")?.unwrap_or(false),
            // KOBIL's samples have no `auth`: a user means authenticating.
            auth: flag(fields, "auth")?.unwrap_or(user.is_some()),
            user,
            password,
        })
    }

    /// The row to store: the password sealed for `tenant` (or the stored one kept).
    pub fn into_row(
        self,
        tenant_id: &str,
        tenant: &str,
        existing: Option<&MailConfigRow>,
        secrets: &SecretBox,
        now: i64,
    ) -> Result<MailConfigRow, String> {
        let password_sealed = match self.password {
            Password::Keep => existing.and_then(|e| e.password_sealed.clone()),
            Password::Clear => None,
            Password::Set(p) => Some(secrets.seal(p.as_bytes(), &password_context(tenant))),
        };
        if self.auth {
            if self.user.is_none() {
                return Err("user is required when auth is true".into());
            }
            if password_sealed.is_none() {
                return Err("password is required when auth is true".into());
            }
        }
        Ok(MailConfigRow {
            tenant_id: tenant_id.to_owned(),
            host: self.host,
            port: i32::from(self.port),
            from_address: self.from,
            from_display_name: self.from_display_name,
            reply_to: self.reply_to,
            reply_to_display_name: self.reply_to_display_name,
            envelope_from: self.envelope_from,
            ssl: self.ssl,
            starttls: self.starttls,
            auth: self.auth,
            username: self.user,
            password_sealed,
            updated_at: now,
        })
    }
}

/// What GET shows: KOBIL's fields as strings (as its samples send them); never the password,
/// only whether one is set.
pub fn representation(row: Option<&MailConfigRow>) -> Value {
    let Some(row) = row else {
        return json!({});
    };
    json!({
        "host": row.host,
        "port": row.port.to_string(),
        "from": row.from_address,
        "fromDisplayName": row.from_display_name,
        "replyTo": row.reply_to,
        "replyToDisplayName": row.reply_to_display_name,
        "envelopeFrom": row.envelope_from,
        "ssl": row.ssl.to_string(),
        "starttls": row.starttls.to_string(),
        "auth": row.auth.to_string(),
        "user": row.username,
        "passwordSet": row.password_sealed.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> SecretBox {
        SecretBox::from_key(&[7u8; 32]).unwrap()
    }

    #[test]
    fn the_seed_sample_is_accepted_and_sealed() {
        let body = json!({
            "envelopeFrom": null, "from": "test@test.com", "fromDisplayName": "Identity Dashboard",
            "host": "mail.gmail.com", "password": "secret", "port": "587",
            "replyTo": "test@test.com", "replyToDisplayName": "Support", "ssl": "true",
            "starttls": "true", "user": "admin.test"
        });
        let row = Setup::parse(&body)
            .unwrap()
            .into_row("id", "acme", None, &secrets(), 1)
            .unwrap();
        assert_eq!(row.port, 587);
        assert!(row.ssl && row.starttls && row.auth);
        let sealed = row.password_sealed.clone().unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(
            secrets().open(&sealed, &password_context("acme")).unwrap(),
            b"secret"
        );
        assert!(secrets().open(&sealed, &password_context("other")).is_err());
        let shown = representation(Some(&row));
        assert_eq!(shown["passwordSet"], true);
        assert_eq!(shown["port"], "587");
        assert!(!shown.to_string().contains("secret"));
        assert!(shown.get("password").is_none());
    }

    #[test]
    fn the_password_is_kept_cleared_or_required() {
        let first = Setup::parse(
            &json!({"host": "smtp.example", "port": 25, "from": "a@b.example",
                                         "user": "u", "password": "p"}),
        )
        .unwrap()
        .into_row("id", "acme", None, &secrets(), 1)
        .unwrap();
        for keep in [json!(null), json!(MASKED)] {
            let again = Setup::parse(&json!({"host": "smtp.example", "port": 25,
                                             "from": "a@b.example", "user": "u", "password": keep}))
            .unwrap()
            .into_row("id", "acme", Some(&first), &secrets(), 2)
            .unwrap();
            assert_eq!(again.password_sealed, first.password_sealed);
        }
        let err = Setup::parse(
            &json!({"host": "smtp.example", "port": 25, "from": "a@b.example",
                                       "user": "u", "password": ""}),
        )
        .unwrap()
        .into_row("id", "acme", Some(&first), &secrets(), 2)
        .unwrap_err();
        assert!(err.contains("password is required"), "{err}");
        let no_auth = Setup::parse(
            &json!({"host": "smtp.example", "port": 25, "from": "a@b.example",
                                           "auth": false, "password": ""}),
        )
        .unwrap()
        .into_row("id", "acme", Some(&first), &secrets(), 2)
        .unwrap();
        assert_eq!(no_auth.password_sealed, None);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let base = json!({"host": "smtp.example", "port": "25", "from": "a@b.example"});
        assert!(Setup::parse(&base).is_ok());
        for (key, value, needle) in [
            ("host", json!(null), "host is required"),
            ("host", json!("bad host"), "host name"),
            ("host", json!("-x.example"), "host name"),
            ("port", json!("0"), "1 to 65535"),
            ("port", json!(70000), "1 to 65535"),
            ("port", json!("abc"), "1 to 65535"),
            ("port", json!(null), "port is required"),
            ("from", json!("nope"), "email address"),
            ("from", json!(null), "from is required"),
            ("replyTo", json!("x@"), "email address"),
            ("ssl", json!("yes"), "true or false"),
            ("fromDisplayName", json!("a\nb"), "control"),
            ("password", json!(5), "string"),
            ("color", json!("red"), "unknown field"),
        ] {
            let mut body = base.clone();
            body[key] = value;
            let err = Setup::parse(&body).unwrap_err();
            assert!(err.contains(needle), "{key}: {err}");
        }
        assert!(Setup::parse(&json!([1])).is_err());
        assert_eq!(
            Setup::parse(&json!({"host": "[::1]", "port": 25, "from": "a@b.example"}))
                .unwrap()
                .host,
            "::1"
        );
    }
}
