//! svc-login's one error enum, mapped to status, code and message once.

use actix_web::http::StatusCode;
use idp_shared::cache::CacheError;
use idp_shared::db::DbError;
use idp_shared::error::{DomainError, ErrorInfo};
use idp_shared::http_client::LookupError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("realm {0} does not exist")]
    RealmNotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A new password the tenant's policy refuses; the text says which rule.
    #[error("{0}")]
    PolicyViolation(String),
    #[error("credential not found")]
    CredentialNotFound,
    /// No such user (KOBIL's routes, which name the code).
    #[error("user not found")]
    UserNotFound,
    /// A FOLIO route without its `X-Okapi-Tenant` header.
    #[error("X-Okapi-Tenant header is required")]
    MissingTenant,
    /// A user, reset action or event that does not exist (FOLIO's not_found_error).
    #[error("{0}")]
    NotFound(String),
    /// What is to be created exists already (FOLIO answers 400 found_error).
    #[error("{0}")]
    Exists(String),
    /// One answer for a wrong password or code, an unknown user and a locked account.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password was right but the account cannot sign in (told only to who knows it).
    #[error("{0}")]
    AccountUnusable(String),
    /// FOLIO's refresh failed (spent, expired or unknown refresh token).
    #[error("token refresh failed")]
    RefreshFailed,
    /// An authorization code that cannot be exchanged (FOLIO's answer for a bad code).
    #[error("failed to obtain a token")]
    CodeRejected,
    #[error("upstream: {0}")]
    Upstream(String),
    #[error("{0}")]
    Internal(String),
    /// The caller may not do this (401/403 from `idp_shared::admin`).
    #[error("{}", .0.message)]
    Refused(ErrorInfo),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl From<LookupError> for Error {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Cache(e) => Error::Cache(e),
            upstream => Error::Upstream(upstream.to_string()),
        }
    }
}

impl From<ErrorInfo> for Error {
    fn from(info: ErrorInfo) -> Self {
        Error::Refused(info)
    }
}

impl DomainError for Error {
    fn info(&self) -> ErrorInfo {
        match self {
            Error::RealmNotFound(name) => ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "TENANT_NOT_FOUND",
                format!("realm {name} does not exist"),
            ),
            Error::UserNotFound => {
                ErrorInfo::new(StatusCode::NOT_FOUND, "USER_NOT_FOUND", "User not found")
            }
            // FOLIO's codes: svc-login's default reply shape is FOLIO's.
            Error::Invalid(m) => {
                ErrorInfo::new(StatusCode::BAD_REQUEST, "validation_error", m.clone())
            }
            Error::MissingTenant => ErrorInfo::new(
                StatusCode::BAD_REQUEST,
                "validation_error",
                "X-Okapi-Tenant header is required",
            ),
            Error::NotFound(m) => {
                ErrorInfo::new(StatusCode::NOT_FOUND, "not_found_error", m.clone())
            }
            Error::Exists(m) => ErrorInfo::new(StatusCode::BAD_REQUEST, "found_error", m.clone()),
            Error::InvalidCredentials => ErrorInfo::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "credentials.invalid",
                "Invalid credentials",
            ),
            Error::AccountUnusable(m) => ErrorInfo::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "account.unusable",
                m.clone(),
            ),
            Error::RefreshFailed => ErrorInfo::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "token.refresh.unprocessable",
                "Authorization server unable to process token refresh request",
            ),
            Error::CodeRejected => ErrorInfo::new(
                StatusCode::BAD_REQUEST,
                "service_error",
                "Failed to obtain a token",
            ),
            Error::PolicyViolation(m) => {
                ErrorInfo::new(StatusCode::BAD_REQUEST, "password.policy", m.clone())
            }
            Error::CredentialNotFound => {
                ErrorInfo::new(StatusCode::NOT_FOUND, "NOT_FOUND", "credential not found")
            }
            Error::Upstream(cause) => {
                tracing::warn!(error = %cause, "a service svc-login depends on failed");
                ErrorInfo::unavailable("a service this request needs is unavailable; retry shortly")
            }
            Error::Internal(cause) => ErrorInfo::internal(cause),
            Error::Refused(info) => info.clone(),
            Error::Db(e) => ErrorInfo::from(e),
            Error::Cache(e) => ErrorInfo::from(e),
        }
    }
}
