//! RP-initiated logout. An app posting its refresh token ends that session (204, what
//! Keycloak's adapters and python-keycloak do). A browser sent with `id_token_hint` ends the
//! hint's session and the browser's own sign-in, loses its SSO cookie, and goes to
//! `post_logout_redirect_uri` when the client registered it, or sees a "signed out" page. A
//! browser sent without a hint is asked to confirm first (a CSRF-safe form), as Keycloak
//! does. Sessions started from one sign-in end together (Keycloak's user session).
//!
//! Errors of the refresh-token form are OAuth JSON; a browser's are pages, never a redirect.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use idp_shared::error::OAuth;
use idp_shared::names::now_millis;
use idp_shared::security::{random_token, secrets_equal};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::pages::{self, Allow, PageError};
use crate::sso::{self, SSO_COOKIE, Scope};
use crate::store;
use crate::tenants::TenantInfo;
use crate::{State, client_auth, clients, sessions, tenants};

#[derive(Debug, Default, Deserialize)]
pub struct LogoutParams {
    refresh_token: Option<String>,
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// The token of the confirmation form.
    confirm: Option<String>,
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: web::Query<LogoutParams>,
) -> HttpResponse {
    logout(&req, &state, &realm, params.into_inner(), false).await
}

pub async fn post(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: Option<web::Form<LogoutParams>>,
) -> HttpResponse {
    let params = form.map(|f| f.into_inner()).unwrap_or_default();
    logout(&req, &state, &realm, params, true).await
}

async fn logout(
    req: &HttpRequest,
    state: &State,
    realm: &str,
    params: LogoutParams,
    posted: bool,
) -> HttpResponse {
    if params
        .refresh_token
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        return match app_logout(req, state, realm, &params).await {
            Ok(reply) => reply,
            Err(e) => OAuth(e).error_response(),
        };
    }
    let tenant = match tenants::enabled_tenant(state, realm).await {
        Ok(tenant) => tenant,
        Err(e) => return PageError::from(e).error_response(),
    };
    match browser_logout(req, state, &tenant, params, posted).await {
        Ok(reply) => reply,
        Err(e) => e.in_realm(&tenant.display_name).error_response(),
    }
}

/// The refresh-token form: 204 once the session (and its sign-in) has ended.
async fn app_logout(
    req: &HttpRequest,
    state: &State,
    realm: &str,
    params: &LogoutParams,
) -> Result<HttpResponse, Error> {
    let tenant = tenants::enabled_tenant(state, realm).await?;
    let refresh = params.refresh_token.as_deref().unwrap_or_default();
    let client = client_auth::authenticate(
        req,
        state,
        &tenant.name,
        params.client_id.as_deref(),
        params.client_secret.as_deref(),
    )
    .await?;
    let Some(session) = sessions::session_of(state, &tenant, refresh, None).await? else {
        return Err(Error::InvalidGrant("Invalid refresh token".into()));
    };
    if session.client_id != client.client.client_id {
        return Err(Error::InvalidGrant(
            "Invalid refresh token. Token client and authorized client don't match".into(),
        ));
    }
    sessions::end_with_sign_in(state, &tenant, &session, now_millis()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct ConfirmPage<'a> {
    realm_display: &'a str,
    nonce: &'a str,
    action: &'a str,
    confirm: &'a str,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
}

fn confirm_key(token: &str) -> String {
    format!("logout-confirm:{}", sso::hash(token))
}

async fn browser_logout(
    req: &HttpRequest,
    state: &State,
    tenant: &TenantInfo,
    params: LogoutParams,
    posted: bool,
) -> Result<HttpResponse, PageError> {
    let now = now_millis();
    let signed_in = sso::current(state, tenant, req, now).await?;
    let hint = params.id_token_hint.as_deref().filter(|t| !t.is_empty());
    let (hint_session, hint_client) = match hint {
        Some(hint) => {
            // An expired hint still names the session to end; its signature must be ours.
            let (_, claims) = state
                .ctx
                .verifier
                .verify_signed(hint, &[tenant.name.as_str()], now / 1000, "ID", false)
                .await
                .map_err(|_| PageError::bad_request("Invalid parameter: id_token_hint"))?;
            let sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
            let aud = claims.get("aud").and_then(Value::as_str).map(str::to_owned);
            (sid, aud)
        }
        None => (None, None),
    };
    if let (Some(given), Some(hinted)) = (&params.client_id, &hint_client)
        && given != hinted
    {
        return Err(PageError::bad_request(
            "Parameter client_id does not match id_token_hint",
        ));
    }
    let client_id = hint_client.or(params.client_id.clone());
    let target = match (&params.post_logout_redirect_uri, &client_id) {
        (Some(uri), Some(client_id)) => {
            let allowed = clients::lookup(state, &tenant.name, client_id)
                .await?
                .is_some_and(|c| c.client.enabled && c.allows_post_logout_redirect(uri));
            if !allowed {
                return Err(PageError::bad_request("Invalid redirect uri"));
            }
            Some(uri.clone())
        }
        (Some(_), None) => {
            return Err(PageError::bad_request(
                "Either the parameter client_id or id_token_hint is required with post_logout_redirect_uri",
            ));
        }
        (None, _) => None,
    };

    if hint.is_none() {
        // Without proof the app asked, only the person at the browser may end its sign-in.
        let confirmed = match (&params.confirm, &signed_in, posted) {
            (Some(token), Some(row), true) => {
                let expected = state
                    .ctx
                    .cache
                    .take(&confirm_key(token))
                    .await
                    .map_err(Error::from)?;
                expected.is_some_and(|id| secrets_equal(&id, row.id.as_bytes()))
            }
            _ => false,
        };
        if let (Some(row), false) = (&signed_in, confirmed) {
            let token = random_token(32);
            state
                .ctx
                .cache
                .set(
                    &confirm_key(&token),
                    row.id.as_bytes(),
                    Duration::from_secs(300),
                )
                .await
                .map_err(Error::from)?;
            let nonce = pages::nonce();
            let action = Scope::of(state, &tenant.name).page("logout");
            let page = ConfirmPage {
                realm_display: &tenant.display_name,
                nonce: &nonce,
                action: &action,
                confirm: &token,
                client_id: client_id.as_deref(),
                post_logout_redirect_uri: target.as_deref(),
                state: params.state.as_deref(),
            };
            let allow = target.as_deref().map(Allow::posting_to).unwrap_or_default();
            return Ok(pages::render(&page, StatusCode::OK, &nonce, &allow));
        }
    }

    if let Some(sid) = hint_session {
        let session = state
            .ctx
            .db
            .run(move |conn| store::find_session(conn, &sid))
            .await
            .map_err(Error::from)?;
        if let Some(session) = session.filter(|s| s.tenant == tenant.name && s.revoked_at.is_none())
        {
            sessions::end_with_sign_in(state, tenant, &session, now).await?;
        }
    }
    if let Some(row) = &signed_in {
        sessions::end_browser_session(state, tenant, &row.id, now).await?;
    }

    let mut reply = match target {
        Some(mut location) => {
            if let Some(s) = &params.state {
                location.push(if location.contains('?') { '&' } else { '?' });
                location.push_str(&format!("state={}", url_encode(s)));
            }
            HttpResponse::Found()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        None => pages::message(
            StatusCode::OK,
            &tenant.display_name,
            "You are signed out",
            "You have been signed out.",
            None,
        ),
    };
    if req.cookie(SSO_COOKIE).is_some() {
        let removal = Scope::of(state, &tenant.name).removal(SSO_COOKIE);
        reply
            .add_cookie(&removal)
            .map_err(|e| PageError::from(Error::Upstream(format!("cookie: {e}"))))?;
    }
    Ok(reply)
}

fn url_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
