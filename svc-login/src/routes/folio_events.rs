//! FOLIO's event log: the security events svc-login records (logins, failures, blocks,
//! password changes) and those other modules post, paged newest first.

use actix_web::{HttpResponse, web};
use idp_shared::admin::Permission;
use idp_shared::error::Folio;
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::folio::{FolioCaller, OkapiTenant};
use crate::login::realm;
use crate::store::{self, EventQuery, SecurityEvent};
use crate::time::{format_iso, parse_iso};
use crate::{State, events};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/authn/log/events", web::get().to(list))
        .route("/authn/log/events", web::post().to(save))
        .route("/authn/log/events/{eventId}", web::delete().to(delete));
}

type Reply = Result<HttpResponse, Folio<Error>>;

/// Largest page a caller may ask for.
pub const MAX_LENGTH: i64 = 1000;

/// The filters of FOLIO's CQL-like `query`: `eventType==X and userId==Y` (either, both, in
/// any order, values optionally quoted, the whole optionally in parentheses), or
/// `cql.allRecords=1`. Anything else is refused rather than guessed at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub user_id: Option<String>,
}

pub fn parse_query(query: &str) -> Result<EventFilter, String> {
    let mut text = query.trim();
    while let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        text = inner.trim();
    }
    let mut filter = EventFilter::default();
    if text.is_empty() || text == "cql.allRecords=1" {
        return Ok(filter);
    }
    let lower = text.to_ascii_lowercase();
    let mut terms = Vec::new();
    let mut start = 0;
    while let Some(at) = lower[start..].find(" and ") {
        terms.push(&text[start..start + at]);
        start += at + 5;
    }
    terms.push(&text[start..]);
    for term in terms {
        let term = term.trim();
        let (field, value) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .ok_or_else(|| format!("unsupported query term {term:?}: use field==value"))?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if value.is_empty() || value.contains(['"', '*', ' ']) {
            return Err(format!("unsupported value in query term {term:?}"));
        }
        let slot = match field.trim() {
            "eventType" => {
                if !events::FOLIO_TYPES.contains(&value) {
                    return Err(format!(
                        "unknown eventType {value:?}; one of {}",
                        events::FOLIO_TYPES.join(", ")
                    ));
                }
                &mut filter.event_type
            }
            "userId" => &mut filter.user_id,
            other => {
                return Err(format!(
                    "unsupported query field {other:?}: eventType and userId can be queried"
                ));
            }
        };
        if slot.replace(value.to_owned()).is_some() {
            return Err(format!("query names {} twice", field.trim()));
        }
    }
    Ok(filter)
}

/// FOLIO's logEvent representation.
fn representation(event: &SecurityEvent) -> Value {
    let mut rep = Map::new();
    rep.insert("id".into(), json!(event.id));
    rep.insert("eventType".into(), json!(event.event_type));
    rep.insert("tenant".into(), json!(event.tenant));
    if let Some(user) = &event.user_id {
        rep.insert("userId".into(), json!(user));
    }
    if let Some(ip) = &event.ip {
        rep.insert("ip".into(), json!(ip));
    }
    if let Some(agent) = &event.user_agent {
        rep.insert("browserInformation".into(), json!(agent));
    }
    rep.insert("timestamp".into(), json!(format_iso(event.created_at)));
    Value::Object(rep)
}

#[derive(Debug, Deserialize)]
struct ListParams {
    start: Option<i64>,
    length: Option<i64>,
    query: Option<String>,
}

/// `{loggingEvent: [...], totalRecords}`: `start` is 1-based; totalRecords counts every match.
async fn list(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    params: web::Query<ListParams>,
) -> Reply {
    caller
        .require(&tenant.0, Permission::ViewEvents)
        .map_err(Error::from)?;
    let params = params.into_inner();
    let start = params.start.unwrap_or(1);
    let length = params.length.unwrap_or(10);
    if start < 1 {
        return Err(Error::Invalid("start must be 1 or more".into()).into());
    }
    if !(1..=MAX_LENGTH).contains(&length) {
        return Err(Error::Invalid(format!("length must be 1 to {MAX_LENGTH}")).into());
    }
    let filter = parse_query(params.query.as_deref().unwrap_or("")).map_err(Error::Invalid)?;
    realm(&state, &tenant.0).await?;
    let query = EventQuery {
        tenant: tenant.0,
        event_type: filter.event_type,
        user_id: filter.user_id,
        offset: start - 1,
        limit: length,
    };
    let (page, total) = state
        .ctx
        .db
        .run(move |conn| store::list_events(conn, &query))
        .await
        .map_err(Error::from)?;
    let events: Vec<Value> = page.iter().map(representation).collect();
    Ok(HttpResponse::Ok().json(json!({ "loggingEvent": events, "totalRecords": total })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventBody {
    id: Option<String>,
    event_type: Option<String>,
    tenant: Option<String>,
    user_id: Option<String>,
    ip: Option<String>,
    browser_information: Option<String>,
    timestamp: Option<String>,
    /// FOLIO's record metadata: accepted, not kept (the event's own fields say it all).
    #[allow(dead_code)]
    metadata: Option<Value>,
}

fn bounded(value: Option<String>, name: &str, max: usize) -> Result<Option<String>, Error> {
    match value {
        Some(v) if v.chars().count() > max => Err(Error::Invalid(format!(
            "{name} is longer than {max} characters"
        ))),
        other => Ok(other.filter(|v| !v.is_empty())),
    }
}

/// Stores an event another module reports: 201 `{message}`.
async fn save(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    body: web::Json<EventBody>,
) -> Reply {
    caller
        .require(&tenant.0, Permission::ManageEvents)
        .map_err(Error::from)?;
    let body = body.into_inner();
    let event_type = body
        .event_type
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Invalid("eventType is required".into()))?;
    if !events::FOLIO_TYPES.contains(&event_type.as_str()) {
        return Err(Error::Invalid(format!(
            "unknown eventType {event_type:?}; one of {}",
            events::FOLIO_TYPES.join(", ")
        ))
        .into());
    }
    match body.tenant.as_deref() {
        None | Some("") => return Err(Error::Invalid("tenant is required".into()).into()),
        Some(t) if t != tenant.0 => {
            return Err(Error::Invalid("tenant must be the X-Okapi-Tenant tenant".into()).into());
        }
        Some(_) => {}
    }
    let user_id = bounded(body.user_id, "userId", 255)?
        .ok_or_else(|| Error::Invalid("userId is required".into()))?;
    let created_at = match body.timestamp.as_deref() {
        None | Some("") => now_millis(),
        Some(text) => parse_iso(text).ok_or_else(|| {
            Error::Invalid("timestamp must be an ISO-8601 date-time with a zone".into())
        })?,
    };
    let id = bounded(body.id, "id", 255)?.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    realm(&state, &tenant.0).await?;
    let event = SecurityEvent {
        id: id.clone(),
        tenant: tenant.0,
        user_id: Some(user_id),
        event_type,
        ip: bounded(body.ip, "ip", 100)?,
        user_agent: bounded(body.browser_information, "browserInformation", 512)?,
        created_at,
    };
    let stored = state
        .ctx
        .db
        .run(move |conn| store::insert_event_if_new(conn, &event))
        .await
        .map_err(Error::from)?;
    if !stored {
        return Err(Error::Exists(format!("an event with id {id} exists already")).into());
    }
    Ok(HttpResponse::Created().json(json!({ "message": format!("event {id} saved") })))
}

/// 204, or 404 when the tenant has no such event.
async fn delete(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Reply {
    caller
        .require(&tenant.0, Permission::ManageEvents)
        .map_err(Error::from)?;
    let id = path.into_inner();
    let t = tenant.0.clone();
    let i = id.clone();
    let found = state
        .ctx
        .db
        .run(move |conn| store::delete_event(conn, &t, &i))
        .await
        .map_err(Error::from)?;
    if !found {
        return Err(Error::NotFound(format!("event {id} not found")).into());
    }
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folio_queries_are_read() {
        assert_eq!(parse_query("").unwrap(), EventFilter::default());
        assert_eq!(
            parse_query("cql.allRecords=1").unwrap(),
            EventFilter::default()
        );
        let both = parse_query("(eventType==FAILED_LOGIN_ATTEMPT AND userId==\"u-1\")").unwrap();
        assert_eq!(both.event_type.as_deref(), Some("FAILED_LOGIN_ATTEMPT"));
        assert_eq!(both.user_id.as_deref(), Some("u-1"));
        let one = parse_query("userId=abc").unwrap();
        assert_eq!(
            (one.event_type, one.user_id.as_deref()),
            (None, Some("abc"))
        );
    }

    #[test]
    fn unsupported_queries_are_refused() {
        for bad in [
            "eventType==NOPE",
            "ip==1.2.3.4",
            "userId==a or userId==b",
            "userId==a and userId==b",
            "userId==",
            "userId==a*",
            "justtext",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
