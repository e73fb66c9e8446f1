//! Mail: each tenant's SMTP server (`setup`), the templates, and the outbox. A request only
//! queues a mail (a row) and returns; the sender task (`sender`) delivers it, retries with
//! backoff while SMTP fails and gives up after the tenant's number of attempts. So no reply
//! waits on SMTP, and none tells whether an address exists or the server is up.

pub mod sender;
pub mod setup;
pub mod templates;

use std::collections::BTreeMap;
use std::sync::Arc;

use idp_shared::names::now_millis;
use idp_shared::security::SecretBox;
use serde_json::{Map, Value};
use tokio::sync::Notify;

use crate::State;
use crate::error::Error;
use crate::store::Tenant;
use crate::store::mail::{self as mail_store, OutboxRow, PENDING};
pub use templates::Template;

/// Realm attribute: milliseconds before the first retry (each later one waits twice as long).
pub const RETRY_DELAY_SETTING: &str = "mailRetryDelayMillis";
/// Realm attribute: attempts before a mail is given up (FAILED).
pub const MAX_ATTEMPTS_SETTING: &str = "mailMaxAttempts";

const DEFAULT_RETRY_DELAY_MS: i64 = 10_000;
const DEFAULT_MAX_ATTEMPTS: i32 = 10;
const RETRY_DELAY_RANGE: (i64, i64) = (100, 3_600_000);
const MAX_ATTEMPTS_RANGE: (i64, i64) = (1, 50);
/// No wait between two attempts is longer (the default gives up after about 50 minutes).
const MAX_RETRY_DELAY_MS: i64 = 15 * 60 * 1000;

const MAX_PARAMS: usize = 32;
const MAX_PARAM_NAME: usize = 64;
const MAX_PARAM_VALUE: usize = 2048;
/// An address longer than this cannot be delivered (RFC 5321 path limit).
const MAX_ADDRESS: usize = 254;

/// The sender's doorbell, shared by the routes that queue mail and the sender task. The task
/// holds only a weak reference to `alive`: once the service's state is gone, it stops.
#[derive(Clone)]
pub struct Outbox {
    wake: Arc<Notify>,
    alive: Arc<()>,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox {
            wake: Arc::new(Notify::new()),
            alive: Arc::new(()),
        }
    }

    /// Tells this replica's sender to look at the outbox now (other replicas poll).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::new()
    }
}

/// How a tenant's mail is retried, from its realm attributes (defaults when unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay_ms: i64,
    pub max_attempts: i32,
}

fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl RetryPolicy {
    pub fn of(settings: &Map<String, Value>) -> RetryPolicy {
        let get = |key: &str, (lo, hi): (i64, i64), default: i64| {
            settings
                .get(key)
                .and_then(whole_number)
                .map_or(default, |n| n.clamp(lo, hi))
        };
        RetryPolicy {
            first_delay_ms: get(
                RETRY_DELAY_SETTING,
                RETRY_DELAY_RANGE,
                DEFAULT_RETRY_DELAY_MS,
            ),
            max_attempts: get(
                MAX_ATTEMPTS_SETTING,
                MAX_ATTEMPTS_RANGE,
                DEFAULT_MAX_ATTEMPTS.into(),
            ) as i32,
        }
    }

    /// The wait after the `attempts`-th failed attempt: doubling, capped.
    pub fn delay_after(&self, attempts: i32) -> i64 {
        let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
        self.first_delay_ms
            .saturating_mul(1 << doublings)
            .min(MAX_RETRY_DELAY_MS.max(self.first_delay_ms))
    }
}

/// The check of the mail realm attributes, for the settings write (`realm::check_settings`).
pub fn check_setting(key: &str, value: &Value) -> Result<(), String> {
    let range = match key {
        RETRY_DELAY_SETTING => RETRY_DELAY_RANGE,
        MAX_ATTEMPTS_SETTING => MAX_ATTEMPTS_RANGE,
        _ => return Ok(()),
    };
    match whole_number(value) {
        Some(n) if (range.0..=range.1).contains(&n) => Ok(()),
        _ if value.is_null() => Ok(()),
        _ => Err(format!(
            "{key} must be a whole number from {} to {}",
            range.0, range.1
        )),
    }
}

/// A checked email address (no display name), or why not.
pub fn address(field: &str, value: &str) -> Result<lettre::Address, String> {
    if value.len() > MAX_ADDRESS {
        return Err(format!("{field} is longer than {MAX_ADDRESS} characters"));
    }
    value
        .parse::<lettre::Address>()
        .map_err(|_| format!("{field} must be an email address, not {value:?}"))
}

/// Parameters used as links must be web addresses: nothing else belongs in an `href`.
fn is_link(name: &str) -> bool {
    name == "link" || name.ends_with("Link") || name.ends_with("Url") || name.ends_with("URL")
}

/// A mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    pub template: Template,
    pub to: String,
    pub params: BTreeMap<String, String>,
}

impl MailRequest {
    /// Checks a request: the template is known, `to` is an address, the parameters are a flat
    /// object of short values, links are http(s) URLs, the template's required ones are there.
    pub fn new(template: &str, to: &str, params: Option<&Value>) -> Result<MailRequest, String> {
        let template = Template::parse(template).ok_or_else(|| {
            format!(
                "unknown mail template {template:?}; one of {}",
                Template::names()
            )
        })?;
        let to = address("to", to.trim())?.to_string();
        let mut out = BTreeMap::new();
        let fields = match params {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err("params must be a JSON object".into()),
        };
        if fields.len() > MAX_PARAMS {
            return Err(format!("at most {MAX_PARAMS} params"));
        }
        for (name, value) in fields {
            if name.is_empty()
                || name.len() > MAX_PARAM_NAME
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(format!(
                    "param names have 1 to {MAX_PARAM_NAME} letters, digits or _, not {name:?}"
                ));
            }
            let text = match value {
                Value::Null => continue,
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(format!("param {name} must be a string, number or boolean")),
            };
            if text.chars().count() > MAX_PARAM_VALUE || text.chars().any(char::is_control) {
                return Err(format!(
                    "param {name} must have at most {MAX_PARAM_VALUE} characters and no control \
                     characters"
                ));
            }
            if is_link(&name) {
                let ok = reqwest::Url::parse(&text)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
                if !ok {
                    return Err(format!("param {name} must be an http(s) URL"));
                }
            }
            if name == "supportEmail" {
                address("params.supportEmail", &text)?;
            }
            if name == "expiresInMinutes" && text.parse::<u32>().is_err() {
                return Err("param expiresInMinutes must be a whole number".into());
            }
            out.insert(name, text);
        }
        for required in template.required() {
            if !out.contains_key(*required) {
                return Err(format!("{} mails need params.{required}", template.name()));
            }
        }
        Ok(MailRequest {
            template,
            to,
            params: out,
        })
    }
}

/// Sealing context of a mail's parameters (they may hold one-time links).
pub fn params_context(id: &str) -> String {
    format!("mail-params:{id}")
}

/// Stores the mail for the sender and wakes it; returns the mail's id. Never touches SMTP.
pub async fn queue(state: &State, tenant: &Tenant, request: MailRequest) -> Result<String, Error> {
    let row = outbox_row(&state.secrets, &tenant.row.id, &request, now_millis());
    let id = row.id.clone();
    state
        .ctx
        .db
        .run(move |conn| mail_store::enqueue(conn, &row))
        .await?;
    state.outbox.wake();
    tracing::info!(tenant = %tenant.row.name, mail = %id, template = request.template.name(), "mail queued");
    Ok(id)
}

fn outbox_row(secrets: &SecretBox, tenant_id: &str, request: &MailRequest, now: i64) -> OutboxRow {
    let id = uuid::Uuid::new_v4().to_string();
    let params = serde_json::to_vec(&request.params).unwrap_or_default();
    OutboxRow {
        params_sealed: Some(secrets.seal(&params, &params_context(&id))),
        id,
        tenant_id: tenant_id.to_owned(),
        template: request.template.name().to_owned(),
        recipient: request.to.clone(),
        status: PENDING.to_owned(),
        attempts: 0,
        next_attempt_at: now,
        claimed_at: None,
        claim_token: None,
        last_error: None,
        created_at: now,
        sent_at: None,
    }
}

/// How the tenant is named in its mails: its display name, else its name.
pub fn display_name(tenant: &Tenant) -> String {
    tenant
        .attributes
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&tenant.row.name)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_checked() {
        let ok = MailRequest::new(
            "MAGIC_LINK",
            " bob@example.com ",
            Some(&json!({"link": "https://idp.example/x?c=1", "expiresInMinutes": 15, "n": null})),
        )
        .unwrap();
        assert_eq!(ok.to, "bob@example.com");
        assert_eq!(ok.params["expiresInMinutes"], "15");
        assert!(!ok.params.contains_key("n"));
        for (template, to, params, needle) in [
            ("NOPE", "a@b.example", json!({}), "unknown mail template"),
            ("TEST", "not an address", json!({}), "email address"),
            ("TEST", "a@b.example", json!([1]), "JSON object"),
            ("MAGIC_LINK", "a@b.example", json!({}), "params.link"),
            (
                "MAGIC_LINK",
                "a@b.example",
                json!({"link": "javascript:alert(1)"}),
                "http(s) URL",
            ),
            (
                "WELCOME",
                "a@b.example",
                json!({"portalUrl": "ftp://x"}),
                "http(s) URL",
            ),
            (
                "TEST",
                "a@b.example",
                json!({"a": {"b": 1}}),
                "string, number or boolean",
            ),
            (
                "TEST",
                "a@b.example",
                json!({"bad name": "x"}),
                "param names",
            ),
            ("TEST", "a@b.example", json!({"x": "a\nb"}), "control"),
            (
                "FORGOT_PASSWORD",
                "a@b.example",
                json!({"link": "https://x.example", "supportEmail": "nope"}),
                "supportEmail",
            ),
        ] {
            let err = MailRequest::new(template, to, Some(&params)).unwrap_err();
            assert!(err.contains(needle), "{template} {params}: {err}");
        }
    }

    #[test]
    fn retries_double_up_to_a_cap() {
        let p = RetryPolicy::of(&Map::new());
        assert_eq!(
            p,
            RetryPolicy {
                first_delay_ms: 10_000,
                max_attempts: 10
            }
        );
        assert_eq!(p.delay_after(1), 10_000);
        assert_eq!(p.delay_after(2), 20_000);
        assert_eq!(p.delay_after(9), MAX_RETRY_DELAY_MS);
        assert_eq!(p.delay_after(1000), MAX_RETRY_DELAY_MS);
        let mut s = Map::new();
        s.insert(RETRY_DELAY_SETTING.into(), json!("150"));
        s.insert(MAX_ATTEMPTS_SETTING.into(), json!(1000));
        let p = RetryPolicy::of(&s);
        assert_eq!(
            p,
            RetryPolicy {
                first_delay_ms: 150,
                max_attempts: 50
            }
        );
        assert!(check_setting(RETRY_DELAY_SETTING, &json!("abc")).is_err());
        assert!(check_setting(RETRY_DELAY_SETTING, &json!(5)).is_err());
        assert!(check_setting(MAX_ATTEMPTS_SETTING, &json!("3")).is_ok());
        assert!(check_setting("other", &json!("abc")).is_ok());
    }
}
