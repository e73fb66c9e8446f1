//! svc-users' one error enum, mapped to status, code and message once.

use actix_web::http::StatusCode;
use idp_shared::cache::CacheError;
use idp_shared::db::DbError;
use idp_shared::error::{DomainError, ErrorInfo};
use idp_shared::http_client::LookupError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("realm {0} does not exist")]
    RealmNotFound(String),
    #[error("user not found")]
    UserNotFound,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// Another service did not answer as it should; the text is for the log.
    #[error("upstream: {0}")]
    Upstream(String),
    /// The caller may not do this (401/403 from `idp_shared::admin`), or another service's
    /// 4xx passed on.
    #[error("{}", .0.message)]
    Refused(ErrorInfo),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl From<ErrorInfo> for Error {
    fn from(info: ErrorInfo) -> Self {
        Error::Refused(info)
    }
}

impl From<LookupError> for Error {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Cache(e) => Error::Cache(e),
            upstream => Error::Upstream(upstream.to_string()),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Error::Db(e.into())
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
            Error::NotFound(m) => ErrorInfo::new(StatusCode::NOT_FOUND, "NOT_FOUND", m.clone()),
            Error::Invalid(m) => ErrorInfo::bad_request(m.clone()),
            Error::Conflict(m) => ErrorInfo::new(StatusCode::CONFLICT, "CONFLICT", m.clone()),
            Error::Upstream(cause) => {
                tracing::warn!(error = %cause, "a service svc-users depends on failed");
                ErrorInfo::unavailable("a service this request needs is unavailable; retry shortly")
            }
            Error::Refused(info) => info.clone(),
            Error::Db(e) if e.is_unique_violation() => ErrorInfo::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                "User exists with same username",
            ),
            Error::Db(e) => ErrorInfo::from(e),
            Error::Cache(e) => ErrorInfo::from(e),
        }
    }
}
