//! Required actions on the hosted pages, after the user is known and before the app gets its
//! code: UPDATE_PASSWORD (through svc-login, policy and history applied), CONFIGURE_TOTP (the
//! seed shown here, the first code checked here, the credential stored by svc-login) and
//! VERIFY_EMAIL. Keycloak's order: CONFIGURE_TOTP, UPDATE_PASSWORD, VERIFY_EMAIL.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use idp_shared::ServiceKind;
use idp_shared::realms::setting_i64;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore;
use reqwest::Method;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Builder, Secret};

use crate::State;
use crate::action_tokens::{self, ActionToken, Purpose};
use crate::error::Error;
use crate::login_attempts::LoginAttempt;
use crate::pages::{self, Allow, PageError};
use crate::sso::Scope;
use crate::tenants::TenantInfo;
use crate::users::UserView;

pub const CONFIGURE_TOTP: &str = "CONFIGURE_TOTP";
pub const UPDATE_PASSWORD: &str = "UPDATE_PASSWORD";
pub const VERIFY_EMAIL: &str = "VERIFY_EMAIL";

/// The actions these pages do, in the order they are asked.
pub const SUPPORTED: [&str; 3] = [CONFIGURE_TOTP, UPDATE_PASSWORD, VERIFY_EMAIL];

/// The actions left for this sign-in: the user's, plus UPDATE_PASSWORD for a temporary
/// password; those already satisfied (an email already verified, an authenticator already
/// set up) are skipped. Err names an action these pages cannot do.
pub async fn pending(
    state: &State,
    tenant: &TenantInfo,
    user: &UserView,
    temporary_password: bool,
) -> Result<Vec<String>, PageError> {
    if let Some(other) = user
        .required_actions
        .iter()
        .find(|a| !SUPPORTED.contains(&a.as_str()))
    {
        tracing::info!(tenant = %tenant.name, action = %other, "sign-in stopped: required action not offered on the hosted pages");
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Your account is not fully set up and cannot be used to sign in here. Please contact your administrator.",
        ));
    }
    let wants = |action: &str| user.required_actions.iter().any(|a| a == action);
    let mut actions = Vec::new();
    if wants(CONFIGURE_TOTP) && !has_otp(state, &tenant.name, &user.id).await? {
        actions.push(CONFIGURE_TOTP.to_owned());
    }
    if wants(UPDATE_PASSWORD) || temporary_password {
        actions.push(UPDATE_PASSWORD.to_owned());
    }
    if wants(VERIFY_EMAIL) && !user.raw["user"]["emailVerified"].as_bool().unwrap_or(false) {
        if user.field("email").is_none() {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Your account needs a verified email address but has none. Please contact your administrator.",
            ));
        }
        actions.push(VERIFY_EMAIL.to_owned());
    }
    Ok(actions)
}

/// Whether the user already has an authenticator (svc-login's credentials).
async fn has_otp(state: &State, tenant: &str, user_id: &str) -> Result<bool, Error> {
    let path = format!(
        "/internal/realms/{tenant}/users/{}/credentials",
        utf8_percent_encode(user_id, NON_ALPHANUMERIC)
    );
    let reply = state
        .ctx
        .client
        .request(Method::GET, ServiceKind::Login, &path)
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-login: {e}")))?;
    if !reply.status().is_success() {
        return Err(Error::Upstream(format!(
            "svc-login answered {}",
            reply.status()
        )));
    }
    let credentials: Value = reply
        .json()
        .await
        .map_err(|e| Error::Upstream(format!("svc-login: {e}")))?;
    Ok(credentials
        .as_array()
        .is_some_and(|list| list.iter().any(|c| c["type"] == "otp")))
}

/// Gets the attempt ready for its current action: a fresh seed for CONFIGURE_TOTP, the
/// verification mail for VERIFY_EMAIL. The caller saves the attempt.
pub async fn begin_current(
    state: &State,
    tenant: &TenantInfo,
    attempt_id: &str,
    attempt: &mut LoginAttempt,
    user: &UserView,
    now: i64,
) -> Result<(), Error> {
    match attempt.pending_actions.first().map(String::as_str) {
        Some(CONFIGURE_TOTP) if attempt.totp_secret.is_none() => {
            // 160 bits, as Keycloak's seeds.
            let mut seed = [0u8; 20];
            rand::rng().fill_bytes(&mut seed);
            attempt.totp_secret = Some(Secret::from(seed).to_base32());
        }
        Some(VERIFY_EMAIL) => send_verification(state, tenant, attempt_id, user, now).await?,
        _ => {}
    }
    Ok(())
}

/// Mails the user a link proving the address is theirs (at most once a minute). A mail the
/// outbox refuses is logged: the page cannot tell more than "sent" anyway.
pub async fn send_verification(
    state: &State,
    tenant: &TenantInfo,
    attempt_id: &str,
    user: &UserView,
    now: i64,
) -> Result<(), Error> {
    let Some(email) = user.field("email") else {
        return Ok(());
    };
    if !action_tokens::may_mail(state, &tenant.name, &user.id, "verify-email").await? {
        return Ok(());
    }
    let token = ActionToken {
        tenant: tenant.name.clone(),
        user_id: user.id.clone(),
        purpose: Purpose::VerifyEmail {
            email: email.to_owned(),
        },
        attempt_id: Some(attempt_id.to_owned()),
        expires_at: now.saturating_add(tenant.action_token_lifespan.saturating_mul(1000)),
    };
    let key = action_tokens::issue(state, &token, now).await?;
    let link = action_tokens::link(state, tenant, &key);
    if let Err(e) = action_tokens::mail(state, tenant, "VERIFY_EMAIL", email, &link).await {
        tracing::warn!(tenant = %tenant.name, error = %e, "verification mail not queued");
    }
    Ok(())
}

/// The realm's OTP policy as authenticator apps need it (Keycloak's `otpPolicy*`).
pub struct OtpPolicy {
    pub algorithm: Algorithm,
    pub digits: u8,
    pub period: u64,
    pub look_around: u16,
}

impl OtpPolicy {
    pub fn of(tenant: &TenantInfo) -> OtpPolicy {
        let rep = &tenant.representation;
        OtpPolicy {
            algorithm: match rep["otpPolicyAlgorithm"].as_str() {
                Some("HmacSHA256") => Algorithm::SHA256,
                Some("HmacSHA512") => Algorithm::SHA512,
                _ => Algorithm::SHA1,
            },
            digits: if setting_i64(rep, "otpPolicyDigits", 6) == 8 {
                8
            } else {
                6
            },
            period: setting_i64(rep, "otpPolicyPeriod", 30).clamp(1, 600) as u64,
            look_around: setting_i64(rep, "otpPolicyLookAheadWindow", 1).clamp(0, 10) as u16,
        }
    }

    fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            Algorithm::SHA256 => "SHA256",
            Algorithm::SHA512 => "SHA512",
            _ => "SHA1",
        }
    }

    /// Whether `code` is the seed's code now (within the look-around window).
    pub fn accepts(&self, seed_base32: &str, code: &str, now_secs: u64) -> bool {
        let Ok(seed) = Secret::try_from_base32(seed_base32) else {
            return false;
        };
        Builder::new()
            .with_algorithm(self.algorithm)
            .with_digits(self.digits)
            .with_step_duration(self.period)
            .with_skew(self.look_around)
            .with_secret(seed)
            .build()
            .is_ok_and(|totp| totp.check(code.trim(), now_secs).is_some())
    }
}

#[derive(Template)]
#[template(path = "update_password.html")]
struct UpdatePasswordPage<'a> {
    realm_display: &'a str,
    nonce: &'a str,
    action: &'a str,
    attempt: &'a str,
    csrf_token: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "configure_totp.html")]
struct ConfigureTotpPage<'a> {
    realm_display: &'a str,
    nonce: &'a str,
    action: &'a str,
    attempt: &'a str,
    csrf_token: &'a str,
    secret_grouped: String,
    otpauth: Option<String>,
    algorithm: &'a str,
    digits: u8,
    period: u64,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyEmailPage<'a> {
    realm_display: &'a str,
    nonce: &'a str,
    action: &'a str,
    attempt: &'a str,
    csrf_token: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

/// The page of the attempt's current action. `username`/`email` are the user's, for the
/// password manager's benefit and the verification notice.
pub fn page(
    state: &State,
    tenant: &TenantInfo,
    attempt_id: &str,
    attempt: &LoginAttempt,
    user: Option<&UserView>,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let scope = Scope::of(state, &tenant.name);
    let action = scope.page("login-actions/required-action");
    let nonce = pages::nonce();
    let allow = Allow::posting_to(&attempt.request.destination.redirect_uri);
    let realm_display = tenant.display_name.as_str();
    let username = user.map_or("", |u| u.username.as_str());
    match attempt.pending_actions.first().map(String::as_str) {
        Some(CONFIGURE_TOTP) => {
            let secret = attempt.totp_secret.clone().unwrap_or_default();
            let policy = OtpPolicy::of(tenant);
            let grouped: Vec<String> = secret
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            let label = format!("{}:{username}", tenant.display_name);
            let otpauth = format!(
                "otpauth://totp/{}?secret={secret}&issuer={}&algorithm={}&digits={}&period={}",
                utf8_percent_encode(&label, NON_ALPHANUMERIC),
                utf8_percent_encode(&tenant.display_name, NON_ALPHANUMERIC),
                policy.algorithm_name(),
                policy.digits,
                policy.period
            );
            let page = ConfigureTotpPage {
                realm_display,
                nonce: &nonce,
                action: &action,
                attempt: attempt_id,
                csrf_token: &attempt.csrf_token,
                secret_grouped: grouped.join(" "),
                otpauth: Some(otpauth),
                algorithm: policy.algorithm_name(),
                digits: policy.digits,
                period: policy.period,
                error,
            };
            pages::render(&page, status, &nonce, &allow)
        }
        Some(VERIFY_EMAIL) => {
            let page = VerifyEmailPage {
                realm_display,
                nonce: &nonce,
                action: &action,
                attempt: attempt_id,
                csrf_token: &attempt.csrf_token,
                email: user.and_then(|u| u.field("email")).unwrap_or_default(),
                error,
            };
            pages::render(&page, status, &nonce, &allow)
        }
        _ => {
            let page = UpdatePasswordPage {
                realm_display,
                nonce: &nonce,
                action: &action,
                attempt: attempt_id,
                csrf_token: &attempt.csrf_token,
                username,
                error,
            };
            pages::render(&page, status, &nonce, &allow)
        }
    }
}

/// svc-login's verdict on a new password: Ok, or the rule it broke (safe to show). `reason`
/// is the event svc-login records: "change" or "reset".
pub async fn set_password(
    state: &State,
    tenant: &str,
    user: &UserView,
    value: &str,
    reason: &str,
) -> Result<Result<(), String>, Error> {
    let path = format!(
        "/internal/realms/{tenant}/users/{}/password",
        utf8_percent_encode(&user.id, NON_ALPHANUMERIC)
    );
    let reply = state
        .ctx
        .client
        .request(Method::PUT, ServiceKind::Login, &path)
        .json(&json!({
            "value": value,
            "temporary": false,
            "username": user.username,
            "email": user.field("email"),
            "reason": reason,
        }))
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-login: {e}")))?;
    match reply.status().as_u16() {
        200..=299 => Ok(Ok(())),
        400 => {
            let body: Value = reply.json().await.unwrap_or(Value::Null);
            let rule = body["message"]
                .as_str()
                .unwrap_or("the password policy refuses it");
            Ok(Err(format!("Invalid password: {rule}.")))
        }
        status => Err(Error::Upstream(format!("svc-login answered {status}"))),
    }
}

/// Stores the authenticator the user just proved they set up.
pub async fn store_otp(
    state: &State,
    tenant: &str,
    user_id: &str,
    seed_base32: &str,
    label: Option<&str>,
) -> Result<(), Error> {
    let path = format!(
        "/internal/realms/{tenant}/users/{}/otp",
        utf8_percent_encode(user_id, NON_ALPHANUMERIC)
    );
    let reply = state
        .ctx
        .client
        .request(Method::POST, ServiceKind::Login, &path)
        .json(&json!({ "secret": seed_base32, "userLabel": label }))
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-login: {e}")))?;
    if !reply.status().is_success() {
        return Err(Error::Upstream(format!(
            "svc-login answered {} to a new OTP",
            reply.status()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_with_the_realm_policy() {
        let policy = OtpPolicy {
            algorithm: Algorithm::SHA1,
            digits: 6,
            period: 30,
            look_around: 1,
        };
        // RFC 6238 Appendix B, SHA1 seed "12345678901234567890", T = 59 s: 94287082 (8 digits).
        let seed = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert!(policy.accepts(&seed, "287082", 59));
        assert!(
            policy.accepts(&seed, "287082", 59 + 30),
            "one step of look-around"
        );
        assert!(!policy.accepts(&seed, "287082", 59 + 90));
        assert!(!policy.accepts(&seed, "000000", 59));
        assert!(!policy.accepts("not base32!", "287082", 59));
    }
}
