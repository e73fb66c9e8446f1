//! The steps of a browser sign-in that more than one route takes: showing the login form,
//! working out which required actions are left, and finishing (the browser's sign-in, the
//! code, the answer to the app).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::authorize::{self, AuthRequest};
use crate::codes::{self, AuthorizationCode};
use crate::error::Error;
use crate::login_attempts::{LoginAttempt, Started};
use crate::pages::{self, Allow, PageError};
use crate::sessions::{self, SsoLink};
use crate::sso::{self, ATTEMPT_COOKIE, SSO_COOKIE, Scope};
use crate::tenants::TenantInfo;
use crate::users::UserView;
use crate::{State, required_actions};

/// The one answer to every failed sign-in: wrong password, unknown user, locked account,
/// missing or wrong one-time code (Keycloak's words).
pub const INVALID_CREDENTIALS: &str = "Invalid username or password.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    realm_display: &'a str,
    nonce: &'a str,
    action: &'a str,
    attempt: &'a str,
    csrf_token: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    reset_url: Option<&'a str>,
}

/// What the login form says above its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback<'a> {
    Nothing,
    Error(&'a str),
    Notice(&'a str),
}

/// The login form of an attempt, with `feedback` above it and `status` (4xx after a failed
/// post).
pub fn login_page(
    state: &State,
    tenant: &TenantInfo,
    attempt_id: &str,
    attempt: &LoginAttempt,
    username: &str,
    feedback: Feedback<'_>,
    status: StatusCode,
) -> HttpResponse {
    let scope = Scope::of(state, &tenant.name);
    let action = scope.page("login-actions/authenticate");
    let reset = tenant
        .reset_password_allowed
        .then(|| scope.page("login-actions/reset-credentials"))
        .map(|page| format!("{page}?attempt={attempt_id}"));
    let nonce = pages::nonce();
    let page = LoginPage {
        realm_display: &tenant.display_name,
        nonce: &nonce,
        action: &action,
        attempt: attempt_id,
        csrf_token: &attempt.csrf_token,
        username,
        error: match feedback {
            Feedback::Error(text) => Some(text),
            _ => None,
        },
        notice: match feedback {
            Feedback::Notice(text) => Some(text),
            _ => None,
        },
        reset_url: reset.as_deref(),
    };
    pages::render(
        &page,
        status,
        &nonce,
        &Allow::posting_to(&attempt.request.destination.redirect_uri),
    )
}

/// The first page of a new attempt (the login form, or the first required action of `user`,
/// already signed in), with the binding cookie when the browser had none.
pub fn first_page(
    state: &State,
    tenant: &TenantInfo,
    started: &Started,
    user: Option<&UserView>,
) -> Result<HttpResponse, PageError> {
    let attempt = &started.attempt;
    let mut reply = if attempt.user_id.is_some() {
        required_actions::page(
            state,
            tenant,
            &started.id,
            attempt,
            user,
            None,
            StatusCode::OK,
        )
    } else {
        let hint = attempt.request.login_hint.as_deref().unwrap_or_default();
        login_page(
            state,
            tenant,
            &started.id,
            attempt,
            hint,
            Feedback::Nothing,
            StatusCode::OK,
        )
    };
    if let Some(binding) = &started.new_binding {
        let cookie = Scope::of(state, &tenant.name).cookie(ATTEMPT_COOKIE, binding.clone());
        reply
            .add_cookie(&cookie)
            .map_err(|e| PageError::from(Error::Upstream(format!("cookie: {e}"))))?;
    }
    Ok(reply)
}

/// Finishes a sign-in: the browser's sign-in (kept, refreshed or new), a code for the app,
/// and the browser sent back to the app. `vouched_by` is the live sign-in that stood in for
/// the password, if no password was asked.
pub async fn complete(
    state: &State,
    req: &HttpRequest,
    tenant: &TenantInfo,
    request: &AuthRequest,
    user: &UserView,
    vouched_by: Option<&str>,
    now: i64,
) -> Result<HttpResponse, PageError> {
    let current = sso::current(state, tenant, req, now).await?;
    let mut new_cookie = None;
    let link = match (vouched_by, current) {
        (Some(vouching), Some(row)) if row.id == vouching && row.user_id == user.id => {
            sso::touch(state, &row.id, now, false).await?;
            SsoLink {
                browser_session_id: row.id,
                authenticated_at: row.authenticated_at,
            }
        }
        (Some(_), _) => {
            return Err(PageError::bad_request(
                "Your sign-in has ended. Please start again from the application.",
            ));
        }
        // The password was just proven: the same user's sign-in is renewed; another user's
        // ends (the person at this browser is now someone else) and a new one begins.
        (None, Some(row)) if row.user_id == user.id => {
            sso::touch(state, &row.id, now, true).await?;
            SsoLink {
                browser_session_id: row.id,
                authenticated_at: now,
            }
        }
        (None, current) => {
            if let Some(other) = current {
                sessions::end_browser_session(state, tenant, &other.id, now).await?;
            }
            let (row, value) = sso::begin(state, tenant, &user.id, now).await?;
            new_cookie = Some(value);
            SsoLink {
                browser_session_id: row.id,
                authenticated_at: now,
            }
        }
    };
    let code = AuthorizationCode {
        tenant: tenant.name.clone(),
        client_id: request.client_id.clone(),
        redirect_uri: request.destination.redirect_uri.clone(),
        user_id: user.id.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        expires_at: now.saturating_add(tenant.code_lifespan.saturating_mul(1000)),
        sso: Some(link),
    };
    let code = codes::issue(state, &code, tenant.code_lifespan as u64).await?;
    let mut reply = authorize::answer(
        &request.destination,
        &state.issuer(&tenant.name),
        &tenant.display_name,
        &[("code", &code)],
    );
    if let Some(value) = new_cookie {
        let cookie = Scope::of(state, &tenant.name).cookie(SSO_COOKIE, value);
        reply
            .add_cookie(&cookie)
            .map_err(|e| PageError::from(Error::Upstream(format!("cookie: {e}"))))?;
    }
    Ok(reply)
}
