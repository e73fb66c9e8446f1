//! FOLIO's login API (mod-login-keycloak): login, refresh and logout with the token cookies.
//! The password is checked here (lockout, OTP, events); svc-auth issues and ends sessions.

use actix_web::{HttpRequest, HttpResponse, web};

use idp_shared::error::{DomainError, Folio, Shape, render};
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::folio::{FolioCaller, IssuedTokens, OkapiTenant, REFRESH_COOKIE, cleared_cookies};
use crate::login::{Purpose, realm};
use crate::routes::folio_credentials::authenticate;
use crate::{State, peers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/authn/login", web::post().to(login))
        .route(
            "/authn/login-with-expiry",
            web::post().to(login_with_expiry),
        )
        .route("/authn/refresh", web::post().to(refresh))
        .route("/authn/logout", web::post().to(logout))
        .route("/authn/logout-all", web::post().to(logout_all))
        .route("/authn/token", web::get().to(token_by_code));
}

type Reply = Result<HttpResponse, Folio<Error>>;

/// FOLIO's loginCredentials; `totp` is ours, for users with an OTP credential.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginBody {
    username: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
    totp: Option<String>,
}

/// Checks the credentials and starts a session: the tokens, or one answer for every refusal.
async fn sign_in(
    state: &State,
    tenant: &str,
    req: &HttpRequest,
    body: LoginBody,
) -> Result<IssuedTokens, Error> {
    let password = body
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::Invalid("password is required".into()))?;
    if body.username.as_deref().is_none_or(str::is_empty)
        && body.user_id.as_deref().is_none_or(str::is_empty)
    {
        return Err(Error::Invalid("username or userId is required".into()));
    }
    let (user, temporary) = authenticate(
        state,
        tenant,
        req,
        body.username.as_deref(),
        body.user_id.as_deref(),
        password,
        body.totp,
        Purpose::Login,
    )
    .await?;
    // Only a caller who knows the password learns that the account cannot be used.
    if !user.enabled {
        return Err(Error::AccountUnusable("Account disabled".into()));
    }
    if temporary || !user.required_actions.is_empty() {
        return Err(Error::AccountUnusable("Account is not fully set up".into()));
    }
    let reply = peers::start_session(state, tenant, &user.id).await?;
    IssuedTokens::from_reply(&reply, now_millis())
}

fn with_cookies(mut reply: HttpResponse, state: &State, tokens: &IssuedTokens) -> HttpResponse {
    for cookie in tokens.cookies(&state.ctx.settings.http.relative_path) {
        // Only fails for a header value that cannot be one; the tokens are base64url text.
        let _ = reply.add_cookie(&cookie);
    }
    reply
}

fn without_cookies(mut reply: HttpResponse, state: &State) -> HttpResponse {
    for cookie in cleared_cookies(&state.ctx.settings.http.relative_path) {
        let _ = reply.add_cookie(&cookie);
    }
    reply
}

/// 201 `{okapiToken, refreshToken}`, the cookies, and FOLIO's `x-okapi-token` and
/// `refreshtoken` headers for clients of the legacy API.
async fn login(
    tenant: OkapiTenant,
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Reply {
    let tokens = sign_in(&state, &tenant.0, &req, body.into_inner()).await?;
    let reply = HttpResponse::Created()
        .insert_header(("x-okapi-token", tokens.access_token.clone()))
        .insert_header(("refreshtoken", tokens.refresh_token.clone()))
        .json(json!({
            "okapiToken": tokens.access_token,
            "refreshToken": tokens.refresh_token,
        }));
    Ok(with_cookies(reply, &state, &tokens))
}

/// 201 with the expirations; the tokens travel only in the cookies.
async fn login_with_expiry(
    tenant: OkapiTenant,
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Reply {
    let tokens = sign_in(&state, &tenant.0, &req, body.into_inner()).await?;
    let reply = HttpResponse::Created().json(tokens.expiry_body());
    Ok(with_cookies(reply, &state, &tokens))
}

fn refresh_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(REFRESH_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// The refresh cookie -> 201 with new cookies; no cookie 400, a refused token 422.
async fn refresh(tenant: OkapiTenant, state: web::Data<State>, req: HttpRequest) -> Reply {
    let token = refresh_cookie(&req)
        .ok_or_else(|| Error::Invalid(format!("the {REFRESH_COOKIE} cookie is required")))?;
    realm(&state, &tenant.0).await?;
    let reply = peers::refresh_session(&state, &tenant.0, &token)
        .await?
        .ok_or(Error::RefreshFailed)?;
    let tokens = IssuedTokens::from_reply(&reply, now_millis())?;
    let reply = HttpResponse::Created().json(tokens.expiry_body());
    Ok(with_cookies(reply, &state, &tokens))
}

/// Ends the session of the refresh cookie (any refresh token: logout is idempotent) or, with
/// no cookie, every session of the bearer's user, as FOLIO does; 204 and the cookies cleared.
async fn logout(
    tenant: OkapiTenant,
    state: web::Data<State>,
    req: HttpRequest,
    caller: Option<FolioCaller>,
) -> Reply {
    realm(&state, &tenant.0).await?;
    match (refresh_cookie(&req), caller) {
        (Some(token), _) => {
            peers::end_session(&state, &tenant.0, &token).await?;
        }
        (None, Some(FolioCaller(caller))) => {
            let p = &caller.principal;
            peers::end_user_sessions(&state, &p.tenant, &p.subject).await?;
        }
        (None, None) => {
            return Err(Error::Invalid(format!(
                "the {REFRESH_COOKIE} cookie or a valid bearer token is required"
            ))
            .into());
        }
    }
    Ok(without_cookies(HttpResponse::NoContent().finish(), &state))
}

/// Every session of the caller's user ends; 204 and the cookies cleared.
async fn logout_all(
    tenant: OkapiTenant,
    FolioCaller(caller): FolioCaller,
    state: web::Data<State>,
) -> Reply {
    realm(&state, &tenant.0).await?;
    let p = &caller.principal;
    peers::end_user_sessions(&state, &p.tenant, &p.subject).await?;
    Ok(without_cookies(HttpResponse::NoContent().finish(), &state))
}

#[derive(Debug, Deserialize)]
struct CodeParams {
    code: Option<String>,
    #[serde(rename = "redirect-uri")]
    redirect_uri: Option<String>,
}

/// Authorization codes come with the authorization endpoint (not built yet), so no code can
/// be valid: the answer is FOLIO's for an invalid code, 400 `service_error` with the cookies
/// cleared.
async fn token_by_code(
    tenant: OkapiTenant,
    state: web::Data<State>,
    params: web::Query<CodeParams>,
) -> Reply {
    if params.code.as_deref().is_none_or(str::is_empty) {
        return Err(Error::Invalid("code is required".into()).into());
    }
    if params.redirect_uri.as_deref().is_none_or(str::is_empty) {
        return Err(Error::Invalid("redirect-uri is required".into()).into());
    }
    realm(&state, &tenant.0).await?;
    let refused = render(Shape::Folio, &Error::CodeRejected.info());
    Ok(without_cookies(refused, &state))
}
