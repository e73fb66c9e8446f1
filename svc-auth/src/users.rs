//! What svc-auth asks of svc-users (who a user is, with roles, for claims) and of svc-login
//! (whether a password is right: lockout and events are svc-login's).

use idp_shared::ServiceKind;
use idp_shared::cache_keys::{USER_VIEW_TTL, user_generation_key, user_view_cache_key};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::State;
use crate::error::Error;

/// A user as tokens need it: svc-users' representation plus roles and groups.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub enabled: bool,
    pub required_actions: Vec<String>,
    pub raw: Value,
}

impl UserView {
    fn from_reply(raw: Value) -> Option<UserView> {
        let user = &raw["user"];
        Some(UserView {
            id: user["id"].as_str()?.to_owned(),
            username: user["username"].as_str()?.to_owned(),
            enabled: user["enabled"].as_bool().unwrap_or(false),
            required_actions: user["requiredActions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            raw,
        })
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.raw["user"][name].as_str()
    }

    pub fn realm_roles(&self) -> Vec<String> {
        strings(&self.raw["realmRoles"])
    }

    /// clientId -> role names.
    pub fn client_roles(&self) -> Vec<(String, Vec<String>)> {
        self.raw["clientRoles"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), strings(v))).collect())
            .unwrap_or_default()
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn get_user(state: &State, path: &str) -> Result<Option<UserView>, Error> {
    parse_user(fetch_user(state, path).await?.as_deref())
}

/// svc-users' JSON of a user, or None when it has no such user.
async fn fetch_user(state: &State, path: &str) -> Result<Option<Vec<u8>>, Error> {
    let reply = state
        .ctx
        .client
        .request(Method::GET, ServiceKind::Users, path)
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-users: {e}")))?;
    match reply.status().as_u16() {
        200 => Ok(Some(
            reply
                .bytes()
                .await
                .map_err(|e| Error::Upstream(format!("svc-users: {e}")))?
                .to_vec(),
        )),
        404 => Ok(None),
        status => Err(Error::Upstream(format!("svc-users answered {status}"))),
    }
}

fn parse_user(json: Option<&[u8]>) -> Result<Option<UserView>, Error> {
    let Some(json) = json else {
        return Ok(None);
    };
    serde_json::from_slice(json)
        .ok()
        .and_then(UserView::from_reply)
        .map(Some)
        .ok_or_else(|| Error::Upstream("svc-users sent an unexpected user".into()))
}

/// The user with this username (or email), if any.
pub async fn by_username(
    state: &State,
    tenant: &str,
    username: &str,
) -> Result<Option<UserView>, Error> {
    if username.is_empty() || username.len() > 255 {
        return Ok(None);
    }
    let path = format!(
        "/internal/realms/{tenant}/users/by-username/{}",
        utf8_percent_encode(&username.to_lowercase(), NON_ALPHANUMERIC)
    );
    get_user(state, &path).await
}

/// The user with this id, if any. Refresh, code exchange and userinfo ask this for every
/// request, so the answer is kept in the cache, tagged with the tenant's user-data generation:
/// svc-users sets a new generation on every change before it replies, so a copy is used only
/// while nothing in the tenant has changed since it was read.
pub async fn by_id(state: &State, tenant: &str, id: &str) -> Result<Option<UserView>, Error> {
    let cache = &*state.ctx.cache;
    let generation = cache
        .get(&user_generation_key(tenant))
        .await?
        .unwrap_or_default();
    let key = user_view_cache_key(tenant, id);
    if let Some(copy) = cache.get(&key).await?
        && let Some(json) = CachedUser::read(&copy, &generation)
    {
        return parse_user(json);
    }
    let path = format!(
        "/internal/realms/{tenant}/users/{}",
        utf8_percent_encode(id, NON_ALPHANUMERIC)
    );
    let json = fetch_user(state, &path).await?;
    cache
        .set(
            &key,
            &CachedUser::write(&generation, json.as_deref()),
            USER_VIEW_TTL,
        )
        .await?;
    parse_user(json.as_deref())
}

/// A cached user: the generation it was read at, a newline, then svc-users' JSON (or
/// `null` for no such user). Generations are random tokens without newlines.
struct CachedUser;

impl CachedUser {
    fn write(generation: &[u8], json: Option<&[u8]>) -> Vec<u8> {
        let json = json.unwrap_or(b"null");
        let mut out = Vec::with_capacity(generation.len() + 1 + json.len());
        out.extend_from_slice(generation);
        out.push(b'\n');
        out.extend_from_slice(json);
        out
    }

    /// The copy's user (`Some(None)`: no such user) when it was read at `generation`.
    fn read<'a>(copy: &'a [u8], generation: &[u8]) -> Option<Option<&'a [u8]>> {
        let split = copy.iter().position(|b| *b == b'\n')?;
        let (tag, json) = (&copy[..split], &copy[split + 1..]);
        (tag == generation).then_some((json != b"null").then_some(json))
    }
}

/// svc-login's verdict on a password: Some(temporary) when right, None otherwise (wrong,
/// unknown user, locked: one answer). An unknown user still costs svc-login one hash.
pub async fn verify_password(
    state: &State,
    tenant: &str,
    user_id: Option<&str>,
    password: &str,
    totp: Option<&str>,
    ip: &str,
    user_agent: Option<&str>,
) -> Result<Option<bool>, Error> {
    let reply = state
        .ctx
        .client
        .request(
            Method::POST,
            ServiceKind::Login,
            &format!("/internal/realms/{tenant}/password/verify"),
        )
        .json(&json!({
            "userId": user_id,
            "password": password,
            "totp": totp,
            "ip": ip,
            "userAgent": user_agent,
        }))
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-login: {e}")))?;
    if !reply.status().is_success() {
        return Err(Error::Upstream(format!(
            "svc-login answered {}",
            reply.status()
        )));
    }
    let verdict: Value = reply
        .json()
        .await
        .map_err(|e| Error::Upstream(format!("svc-login: {e}")))?;
    Ok(verdict["valid"]
        .as_bool()
        .unwrap_or(false)
        .then(|| verdict["temporary"].as_bool().unwrap_or(false)))
}

/// Takes a done required action off the user (svc-users). Until svc-users offers the route
/// (`DELETE /internal/realms/{t}/users/{id}/required-actions/{action}`, 204), its 404 is
/// logged and the sign-in goes on: this sign-in is complete, the next one asks again.
pub async fn required_action_done(
    state: &State,
    tenant: &str,
    user: &UserView,
    action: &str,
) -> Result<(), Error> {
    if !user.required_actions.iter().any(|a| a == action) {
        return Ok(());
    }
    let path = format!(
        "/internal/realms/{tenant}/users/{}/required-actions/{}",
        utf8_percent_encode(&user.id, NON_ALPHANUMERIC),
        utf8_percent_encode(action, NON_ALPHANUMERIC)
    );
    let reply = state
        .ctx
        .client
        .request(Method::DELETE, ServiceKind::Users, &path)
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-users: {e}")))?;
    match reply.status().as_u16() {
        200..=299 => Ok(()),
        404 => {
            tracing::warn!(%tenant, %action, "svc-users cannot remove a done required action yet; it stays on the user");
            Ok(())
        }
        status => Err(Error::Upstream(format!("svc-users answered {status}"))),
    }
}

/// Marks the user's email verified (svc-users), when it is still `email`: Ok(false) when the
/// address has changed since the link was sent. svc-users' route for it
/// (`PUT /internal/realms/{t}/users/{id}/email-verified` `{email}`: 204, 409 when the address
/// differs) is still to come; until then this is an upstream error.
pub async fn mark_email_verified(
    state: &State,
    tenant: &str,
    user_id: &str,
    email: &str,
) -> Result<bool, Error> {
    let path = format!(
        "/internal/realms/{tenant}/users/{}/email-verified",
        utf8_percent_encode(user_id, NON_ALPHANUMERIC)
    );
    let reply = state
        .ctx
        .client
        .request(Method::PUT, ServiceKind::Users, &path)
        .json(&json!({ "email": email }))
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-users: {e}")))?;
    match reply.status().as_u16() {
        200..=299 => Ok(true),
        409 => Ok(false),
        status => Err(Error::Upstream(format!(
            "svc-users answered {status} to marking an email verified"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::CachedUser;

    #[test]
    fn a_cached_user_counts_only_at_its_generation() {
        let copy = CachedUser::write(b"g1", Some(br#"{"user":{}}"#));
        assert_eq!(
            CachedUser::read(&copy, b"g1"),
            Some(Some(&br#"{"user":{}}"#[..]))
        );
        assert_eq!(CachedUser::read(&copy, b"g2"), None, "changed since");
        assert_eq!(CachedUser::read(&copy, b""), None, "generation expired");
        let missing = CachedUser::write(b"", None);
        assert_eq!(CachedUser::read(&missing, b""), Some(None), "no such user");
        assert_eq!(CachedUser::read(&missing, b"g1"), None);
        assert_eq!(CachedUser::read(b"no newline", b""), None, "not a copy");
    }
}
