//! svc-auth's one error enum, mapped to status, code and message once.

use actix_web::http::StatusCode;
use idp_shared::cache::CacheError;
use idp_shared::db::DbError;
use idp_shared::error::{DomainError, ErrorInfo};

use crate::keys::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("realm {0} does not exist")]
    RealmNotFound(String),
    #[error("realm {0} is disabled")]
    RealmDisabled(String),
    /// RFC 6749 §5.2 errors, answered with their code and this description.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("unsupported_token_type: {0}")]
    UnsupportedTokenType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// Another service did not answer as it should; the text is for the log.
    #[error("upstream: {0}")]
    Upstream(String),
    /// A refusal already in its final form (a bearer check, a permission check).
    #[error("{}", .0.message)]
    Refused(ErrorInfo),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl From<idp_shared::http_client::LookupError> for Error {
    fn from(e: idp_shared::http_client::LookupError) -> Self {
        match e {
            idp_shared::http_client::LookupError::Cache(e) => Error::Cache(e),
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
            // Keycloak's own words, which its client libraries show.
            Error::RealmNotFound(name) => ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "Realm does not exist",
                format!("realm {name} does not exist"),
            ),
            Error::RealmDisabled(name) => ErrorInfo::new(
                StatusCode::FORBIDDEN,
                "Realm not enabled",
                format!("realm {name} is disabled"),
            ),
            Error::InvalidRequest(m) => oauth(StatusCode::BAD_REQUEST, "invalid_request", m),
            Error::InvalidClient(m) => oauth(StatusCode::UNAUTHORIZED, "invalid_client", m),
            Error::UnauthorizedClient(m) => {
                oauth(StatusCode::BAD_REQUEST, "unauthorized_client", m)
            }
            Error::InvalidGrant(m) => oauth(StatusCode::BAD_REQUEST, "invalid_grant", m),
            Error::UnsupportedGrantType(m) => {
                oauth(StatusCode::BAD_REQUEST, "unsupported_grant_type", m)
            }
            Error::UnsupportedTokenType(m) => {
                oauth(StatusCode::BAD_REQUEST, "unsupported_token_type", m)
            }
            Error::InvalidScope(m) => oauth(StatusCode::BAD_REQUEST, "invalid_scope", m),
            Error::Upstream(cause) => {
                tracing::warn!(error = %cause, "a service svc-auth depends on failed");
                ErrorInfo::unavailable("a service this request needs is unavailable; retry shortly")
            }
            Error::Refused(info) => info.clone(),
            Error::Key(e) => ErrorInfo::internal(e),
            Error::Db(e) => ErrorInfo::from(e),
            Error::Cache(e) => ErrorInfo::from(e),
        }
    }
}

fn oauth(status: StatusCode, code: &'static str, description: &str) -> ErrorInfo {
    ErrorInfo::new(status, code, description.to_owned())
}
