//! The posts of the hosted pages (Keycloak's `login-actions`, under the routed
//! `/protocol/openid-connect/` prefix): the login form and the required actions. Each first
//! checks the attempt, the browser and the CSRF token (`crate::login_attempts`); a post that
//! fails that changes nothing.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use idp_shared::names::now_millis;
use serde::Deserialize;

use crate::action_tokens::{self, ActionToken, Purpose};
use crate::login_attempts::{self, LoginAttempt};
use crate::login_flow::{self, Feedback, INVALID_CREDENTIALS};
use crate::pages::{self, Allow, PageError};
use crate::required_actions::{self, CONFIGURE_TOTP, OtpPolicy, UPDATE_PASSWORD, VERIFY_EMAIL};
use crate::sso::Scope;
use crate::tenants::TenantInfo;
use crate::users::UserView;
use crate::{State, sessions, tenants, tokens, users};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let page = |name: &str| {
        web::resource(format!(
            "/realms/{{realm}}/protocol/openid-connect/login-actions/{name}"
        ))
        .app_data(pages::form_config(64 * 1024))
        .app_data(pages::query_config())
    };
    cfg.service(
        page("authenticate")
            .route(web::get().to(show_login))
            .route(web::post().to(authenticate)),
    )
    .service(page("required-action").route(web::post().to(required_action)))
    .service(
        page("reset-credentials")
            .route(web::get().to(reset_credentials_page))
            .route(web::post().to(reset_credentials)),
    )
    .service(
        page("action-token")
            .route(web::get().to(action_token))
            .route(web::post().to(action_token_password)),
    );
}

#[derive(Debug, Default, Deserialize)]
pub struct AttemptQuery {
    attempt: Option<String>,
}

/// The login form of an attempt again ("back to login"), for the browser that started it.
async fn show_login(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    query: web::Query<AttemptQuery>,
) -> Result<HttpResponse, PageError> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let id = query.attempt.as_deref().unwrap_or_default();
    let attempt = login_attempts::load_bound(&state, &tenant, &req, Some(id), now_millis())
        .await
        .map_err(|e| e.in_realm(&tenant.display_name))?;
    let hint = attempt.request.login_hint.clone().unwrap_or_default();
    Ok(login_flow::login_page(
        &state,
        &tenant,
        id,
        &attempt,
        &hint,
        Feedback::Nothing,
        StatusCode::OK,
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    attempt: Option<String>,
    csrf_token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    otp: Option<String>,
}

/// Whatever a field holds beyond this is not a username or password anyone typed.
const MAX_FIELD: usize = 1024;

fn field(value: &Option<String>) -> &str {
    value
        .as_deref()
        .filter(|v| v.len() <= MAX_FIELD)
        .unwrap_or_default()
}

async fn authenticate(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let in_realm = |e: PageError| e.in_realm(&tenant.display_name);
    let now = now_millis();
    let attempt_id = form.attempt.as_deref().unwrap_or_default();
    let mut attempt = login_attempts::load_checked(
        &state,
        &tenant,
        &req,
        form.attempt.as_deref(),
        form.csrf_token.as_deref(),
        now,
    )
    .await
    .map_err(in_realm)?;
    if attempt.user_id.is_some() {
        // Past the password already (a second tab, the back button): where it stands.
        let user = current_user(&state, &tenant, &attempt).await?;
        return Ok(required_actions::page(
            &state,
            &tenant,
            attempt_id,
            &attempt,
            Some(&user),
            None,
            StatusCode::OK,
        ));
    }
    let username = field(&form.username).trim();
    let password = field(&form.password);
    // 400, not 401: a form has no WWW-Authenticate challenge to offer.
    let failed = |attempt: &LoginAttempt, message: &str| {
        login_flow::login_page(
            &state,
            &tenant,
            attempt_id,
            attempt,
            username,
            Feedback::Error(message),
            StatusCode::BAD_REQUEST,
        )
    };
    if username.is_empty() || password.is_empty() {
        return Ok(failed(&attempt, INVALID_CREDENTIALS));
    }
    let user = users::by_username(&state, &tenant.name, username).await?;
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let verdict = users::verify_password(
        &state,
        &tenant.name,
        user.as_ref().map(|u| u.id.as_str()),
        password,
        Some(field(&form.otp).trim()).filter(|c| !c.is_empty()),
        &tokens::client_address(&req),
        user_agent,
    )
    .await?;
    let (Some(user), Some(temporary)) = (user, verdict) else {
        return Ok(failed(&attempt, INVALID_CREDENTIALS));
    };
    // Only someone who knows the password learns that the account cannot be used.
    if !user.enabled {
        return Ok(failed(
            &attempt,
            "Account is disabled, contact your administrator.",
        ));
    }
    let actions = required_actions::pending(&state, &tenant, &user, temporary)
        .await
        .map_err(in_realm)?;
    if actions.is_empty() {
        return finish(&state, &req, &tenant, attempt_id, &attempt, &user, now).await;
    }
    attempt.user_id = Some(user.id.clone());
    attempt.pending_actions = actions;
    required_actions::begin_current(&state, &tenant, attempt_id, &mut attempt, &user, now).await?;
    login_attempts::save(&state, attempt_id, &attempt, now).await?;
    Ok(required_actions::page(
        &state,
        &tenant,
        attempt_id,
        &attempt,
        Some(&user),
        None,
        StatusCode::OK,
    ))
}

/// The user of an attempt past its password, as they are now (still enabled).
async fn current_user(
    state: &State,
    tenant: &TenantInfo,
    attempt: &LoginAttempt,
) -> Result<UserView, PageError> {
    let id = attempt.user_id.as_deref().unwrap_or_default();
    users::by_id(state, &tenant.name, id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(|| {
            PageError::bad_request("Account is disabled, contact your administrator.")
                .in_realm(&tenant.display_name)
        })
}

/// Ends the attempt (once, whoever posts twice) and sends the browser back to the app.
async fn finish(
    state: &State,
    req: &HttpRequest,
    tenant: &TenantInfo,
    attempt_id: &str,
    attempt: &LoginAttempt,
    user: &UserView,
    now: i64,
) -> Result<HttpResponse, PageError> {
    if !login_attempts::finish(state, attempt_id).await? {
        return Err(PageError::bad_request(
            "This sign-in has already been completed. Please go back to the application.",
        )
        .in_realm(&tenant.display_name));
    }
    login_flow::complete(
        state,
        req,
        tenant,
        &attempt.request,
        user,
        attempt.browser_session_id.as_deref(),
        now,
    )
    .await
    .map_err(|e| e.in_realm(&tenant.display_name))
}

#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    attempt: Option<String>,
    csrf_token: Option<String>,
    action: Option<String>,
    #[serde(rename = "password-new")]
    password_new: Option<String>,
    #[serde(rename = "password-confirm")]
    password_confirm: Option<String>,
    totp: Option<String>,
    #[serde(rename = "userLabel")]
    user_label: Option<String>,
    resend: Option<String>,
}

async fn required_action(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let in_realm = |e: PageError| e.in_realm(&tenant.display_name);
    let now = now_millis();
    let attempt_id = form.attempt.as_deref().unwrap_or_default();
    let mut attempt = login_attempts::load_checked(
        &state,
        &tenant,
        &req,
        form.attempt.as_deref(),
        form.csrf_token.as_deref(),
        now,
    )
    .await
    .map_err(in_realm)?;
    if attempt.user_id.is_none() {
        let hint = attempt.request.login_hint.clone().unwrap_or_default();
        return Ok(login_flow::login_page(
            &state,
            &tenant,
            attempt_id,
            &attempt,
            &hint,
            Feedback::Nothing,
            StatusCode::OK,
        ));
    }
    let user = current_user(&state, &tenant, &attempt).await?;
    let page = |attempt: &LoginAttempt, error: Option<&str>, status| {
        required_actions::page(
            &state,
            &tenant,
            attempt_id,
            attempt,
            Some(&user),
            error,
            status,
        )
    };
    let current = attempt.pending_actions.first().cloned();
    // A form of an action already done (back button): show where the attempt stands.
    if current.is_some() && form.action != current {
        return Ok(page(&attempt, None, StatusCode::OK));
    }
    match current.as_deref() {
        Some(UPDATE_PASSWORD) => {
            let new = field(&form.password_new);
            if new.is_empty() {
                return Ok(page(
                    &attempt,
                    Some("Please specify password."),
                    StatusCode::BAD_REQUEST,
                ));
            }
            if new != field(&form.password_confirm) {
                return Ok(page(
                    &attempt,
                    Some("Passwords don't match."),
                    StatusCode::BAD_REQUEST,
                ));
            }
            if let Err(rule) =
                required_actions::set_password(&state, &tenant.name, &user, new, "change").await?
            {
                return Ok(page(&attempt, Some(&rule), StatusCode::BAD_REQUEST));
            }
        }
        Some(CONFIGURE_TOTP) => {
            let seed = attempt.totp_secret.clone().unwrap_or_default();
            let code = field(&form.totp).trim();
            if code.is_empty() || !OtpPolicy::of(&tenant).accepts(&seed, code, (now / 1000) as u64)
            {
                return Ok(page(
                    &attempt,
                    Some("Invalid authenticator code."),
                    StatusCode::BAD_REQUEST,
                ));
            }
            let label = Some(field(&form.user_label).trim()).filter(|l| !l.is_empty());
            required_actions::store_otp(&state, &tenant.name, &user.id, &seed, label).await?;
            attempt.totp_secret = None;
        }
        Some(VERIFY_EMAIL) => {
            if form.resend.is_some() {
                required_actions::send_verification(&state, &tenant, attempt_id, &user, now)
                    .await?;
                return Ok(page(&attempt, None, StatusCode::OK));
            }
            if !user.raw["user"]["emailVerified"].as_bool().unwrap_or(false) {
                return Ok(page(
                    &attempt,
                    Some(
                        "Your email address is not verified yet. Please open the link in the email we sent.",
                    ),
                    StatusCode::BAD_REQUEST,
                ));
            }
        }
        _ => {}
    }
    if let Some(done) = current {
        users::required_action_done(&state, &tenant.name, &user, &done).await?;
        attempt.pending_actions.remove(0);
    }
    if attempt.pending_actions.is_empty() {
        return finish(&state, &req, &tenant, attempt_id, &attempt, &user, now).await;
    }
    required_actions::begin_current(&state, &tenant, attempt_id, &mut attempt, &user, now).await?;
    login_attempts::save(&state, attempt_id, &attempt, now).await?;
    Ok(page(&attempt, None, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "reset_credentials.html")]
struct ResetCredentialsPage<'a> {
    realm_display: &'a str,
    nonce: &'a str,
    action: &'a str,
    back: &'a str,
    attempt: &'a str,
    csrf_token: &'a str,
    username: &'a str,
}

fn reset_allowed(tenant: &TenantInfo) -> Result<(), PageError> {
    if tenant.reset_password_allowed {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::NOT_FOUND,
            "Resetting passwords is not enabled here.",
        )
        .in_realm(&tenant.display_name))
    }
}

/// "Forgot password?": the form asking for the username or email.
async fn reset_credentials_page(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    query: web::Query<AttemptQuery>,
) -> Result<HttpResponse, PageError> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    reset_allowed(&tenant)?;
    let id = query.attempt.as_deref().unwrap_or_default();
    let attempt = login_attempts::load_bound(&state, &tenant, &req, Some(id), now_millis())
        .await
        .map_err(|e| e.in_realm(&tenant.display_name))?;
    let scope = Scope::of(&state, &tenant.name);
    let nonce = pages::nonce();
    let back = format!("{}?attempt={id}", scope.page("login-actions/authenticate"));
    let page = ResetCredentialsPage {
        realm_display: &tenant.display_name,
        nonce: &nonce,
        action: &scope.page("login-actions/reset-credentials"),
        back: &back,
        attempt: id,
        csrf_token: &attempt.csrf_token,
        username: attempt.request.login_hint.as_deref().unwrap_or_default(),
    };
    Ok(pages::render(
        &page,
        StatusCode::OK,
        &nonce,
        &Allow::default(),
    ))
}

/// Mails a reset link to the user named, if there is one with an address; the page says the
/// same either way, so nobody learns who has an account.
async fn reset_credentials(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    reset_allowed(&tenant)?;
    let now = now_millis();
    let attempt_id = form.attempt.as_deref().unwrap_or_default();
    login_attempts::load_checked(
        &state,
        &tenant,
        &req,
        form.attempt.as_deref(),
        form.csrf_token.as_deref(),
        now,
    )
    .await
    .map_err(|e| e.in_realm(&tenant.display_name))?;
    let username = field(&form.username).trim();
    let user = users::by_username(&state, &tenant.name, username).await?;
    if let Some(user) = user.filter(|u| u.enabled)
        && let Some(email) = user.field("email")
        && action_tokens::may_mail(&state, &tenant.name, &user.id, "reset-password").await?
    {
        let token = ActionToken {
            tenant: tenant.name.clone(),
            user_id: user.id.clone(),
            purpose: Purpose::ResetPassword,
            attempt_id: Some(attempt_id.to_owned()),
            expires_at: now.saturating_add(tenant.action_token_lifespan.saturating_mul(1000)),
        };
        let key = action_tokens::issue(&state, &token, now).await?;
        let link = action_tokens::link(&state, &tenant, &key);
        if let Err(e) = action_tokens::mail(&state, &tenant, "FORGOT_PASSWORD", email, &link).await
        {
            tracing::warn!(tenant = %tenant.name, error = %e, "reset mail not queued");
        }
    }
    let back = format!(
        "{}?attempt={attempt_id}",
        Scope::of(&state, &tenant.name).page("login-actions/authenticate")
    );
    Ok(pages::message(
        StatusCode::OK,
        &tenant.display_name,
        "Forgot your password?",
        "You should receive an email shortly with further instructions.",
        Some((&back, "« Back to login")),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPasswordPage<'a> {
    realm_display: &'a str,
    nonce: &'a str,
    action: &'a str,
    key: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

fn link_expired(tenant: &TenantInfo) -> PageError {
    PageError::bad_request(
        "This link is no longer valid: it has expired or has already been used. Please ask for a new one.",
    )
    .in_realm(&tenant.display_name)
}

fn reset_password_page(
    state: &State,
    tenant: &TenantInfo,
    key: &str,
    user: &UserView,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let nonce = pages::nonce();
    let page = ResetPasswordPage {
        realm_display: &tenant.display_name,
        nonce: &nonce,
        action: &Scope::of(state, &tenant.name).page("login-actions/action-token"),
        key,
        username: &user.username,
        error,
    };
    pages::render(&page, status, &nonce, &Allow::default())
}

/// A link from a mail: the new-password form, or the email verified.
async fn action_token(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    query: web::Query<KeyQuery>,
) -> Result<HttpResponse, PageError> {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let now = now_millis();
    let key = query.key.as_deref().unwrap_or_default();
    let token = action_tokens::peek(&state, &tenant, key, now)
        .await?
        .ok_or_else(|| link_expired(&tenant))?;
    let user = users::by_id(&state, &tenant.name, &token.user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(|| link_expired(&tenant))?;
    match &token.purpose {
        Purpose::ResetPassword => Ok(reset_password_page(
            &state,
            &tenant,
            key,
            &user,
            None,
            StatusCode::OK,
        )),
        Purpose::VerifyEmail { email } => {
            if !action_tokens::spend(&state, key).await? {
                return Err(link_expired(&tenant));
            }
            if !users::mark_email_verified(&state, &tenant.name, &user.id, email).await? {
                return Err(PageError::bad_request(
                    "The email address of this account has changed since this link was sent.",
                )
                .in_realm(&tenant.display_name));
            }
            // Opened in the browser that is signing in: on to the next action, or the app.
            if let Some(id) = &token.attempt_id
                && let Some(attempt) = login_attempts::find(&state, &tenant, Some(id), now).await?
                && login_attempts::started_here(&req, &attempt)
            {
                return continue_actions(&state, &req, &tenant, id, attempt, now).await;
            }
            Ok(pages::message(
                StatusCode::OK,
                &tenant.display_name,
                "Email verified",
                "Your email address has been verified. You can go back to the application.",
                None,
            ))
        }
        Purpose::MagicLink {
            request,
            reset_password,
        } => {
            if !action_tokens::spend(&state, key).await? {
                return Err(link_expired(&tenant));
            }
            magic_sign_in(&state, &req, &tenant, request, &user, *reset_password, now).await
        }
    }
}

/// A magic link opened: the app and its redirect URI checked again (either may have changed
/// since the mail), the user's required actions (a new password first when asked), then the
/// app's code. Having the link is the proof, as the password is for the form.
async fn magic_sign_in(
    state: &State,
    req: &HttpRequest,
    tenant: &TenantInfo,
    request: &crate::authorize::AuthRequest,
    user: &UserView,
    reset_password: bool,
    now: i64,
) -> Result<HttpResponse, PageError> {
    let in_realm = |e: PageError| e.in_realm(&tenant.display_name);
    let still_registered = crate::clients::lookup(state, &tenant.name, &request.client_id)
        .await?
        .is_some_and(|c| {
            c.client.enabled
                && !c.client.bearer_only
                && crate::clients::redirect_matches(
                    &c.client.redirect_uris,
                    &request.destination.redirect_uri,
                )
        });
    if !still_registered {
        return Err(in_realm(PageError::bad_request(
            "The application of this link is no longer available.",
        )));
    }
    let actions = required_actions::pending(state, tenant, user, reset_password)
        .await
        .map_err(in_realm)?;
    if actions.is_empty() {
        return login_flow::complete(state, req, tenant, request, user, None, now)
            .await
            .map_err(in_realm);
    }
    let mut started = login_attempts::start(state, tenant, request.clone(), req, None, now).await?;
    started.attempt.user_id = Some(user.id.clone());
    started.attempt.pending_actions = actions;
    required_actions::begin_current(state, tenant, &started.id, &mut started.attempt, user, now)
        .await?;
    login_attempts::save(state, &started.id, &started.attempt, now).await?;
    login_flow::first_page(state, tenant, &started, Some(user)).map_err(in_realm)
}

/// Goes on with an attempt's required actions after one was done elsewhere (a mail link).
async fn continue_actions(
    state: &State,
    req: &HttpRequest,
    tenant: &TenantInfo,
    attempt_id: &str,
    mut attempt: LoginAttempt,
    now: i64,
) -> Result<HttpResponse, PageError> {
    let user = current_user(state, tenant, &attempt).await?;
    let still = required_actions::pending(state, tenant, &user, false)
        .await
        .map_err(|e| e.in_realm(&tenant.display_name))?;
    attempt
        .pending_actions
        .retain(|a| still.contains(a) || a == UPDATE_PASSWORD);
    if attempt.pending_actions.is_empty() {
        return finish(state, req, tenant, attempt_id, &attempt, &user, now).await;
    }
    required_actions::begin_current(state, tenant, attempt_id, &mut attempt, &user, now).await?;
    login_attempts::save(state, attempt_id, &attempt, now).await?;
    Ok(required_actions::page(
        state,
        tenant,
        attempt_id,
        &attempt,
        Some(&user),
        None,
        StatusCode::OK,
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct NewPasswordForm {
    key: Option<String>,
    #[serde(rename = "password-new")]
    password_new: Option<String>,
    #[serde(rename = "password-confirm")]
    password_confirm: Option<String>,
}

/// The new password of a reset link: set (policy and history applied), every session of the
/// user ended (the old password may be known to someone else), the link spent.
async fn action_token_password(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: web::Form<NewPasswordForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    let now = now_millis();
    let key = form.key.as_deref().unwrap_or_default();
    let token = action_tokens::peek(&state, &tenant, key, now)
        .await?
        .filter(|t| t.purpose == Purpose::ResetPassword)
        .ok_or_else(|| link_expired(&tenant))?;
    let user = users::by_id(&state, &tenant.name, &token.user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(|| link_expired(&tenant))?;
    let new = field(&form.password_new);
    let refused = |message: &str| {
        reset_password_page(
            &state,
            &tenant,
            key,
            &user,
            Some(message),
            StatusCode::BAD_REQUEST,
        )
    };
    if new.is_empty() {
        return Ok(refused("Please specify password."));
    }
    if new != field(&form.password_confirm) {
        return Ok(refused("Passwords don't match."));
    }
    // Spent before the password is set, so two posts of one link cannot both set one.
    if !action_tokens::spend(&state, key).await? {
        return Err(link_expired(&tenant));
    }
    if let Err(rule) =
        required_actions::set_password(&state, &tenant.name, &user, new, "reset").await?
    {
        action_tokens::restore(&state, key, &token, now).await?;
        return Ok(refused(&rule));
    }
    sessions::end_sessions(&state, &tenant, None, Some(&user.id), now).await?;
    // Back in the browser that asked: its login form, to sign in with the new password.
    if let Some(id) = &token.attempt_id
        && let Some(attempt) = login_attempts::find(&state, &tenant, Some(id), now).await?
        && login_attempts::started_here(&req, &attempt)
    {
        return Ok(login_flow::login_page(
            &state,
            &tenant,
            id,
            &attempt,
            &user.username,
            Feedback::Notice("Your password has been updated. Sign in with it now."),
            StatusCode::OK,
        ));
    }
    Ok(pages::message(
        StatusCode::OK,
        &tenant.display_name,
        "Password updated",
        "Your password has been updated. Sign in again from the application.",
        None,
    ))
}
