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
    /// Another service did not answer as it should; the text is for the log.
    #[error("upstream: {0}")]
    Upstream(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Cache(#[from] CacheError),
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
            Error::Upstream(cause) => {
                tracing::warn!(error = %cause, "a service svc-auth depends on failed");
                ErrorInfo::unavailable("a service this request needs is unavailable; retry shortly")
            }
            Error::Key(e) => ErrorInfo::internal(e),
            Error::Db(e) => ErrorInfo::from(e),
            Error::Cache(e) => ErrorInfo::from(e),
        }
    }
}
