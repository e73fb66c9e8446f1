//! svc-apps' one error enum, mapped to status, code and message once.

use actix_web::http::StatusCode;
use idp_shared::db::DbError;
use idp_shared::error::{DomainError, ErrorInfo};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("app {0} not found")]
    AppNotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("stored secret cannot be opened")]
    Sealed(#[from] idp_shared::security::SecurityError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl DomainError for Error {
    fn info(&self) -> ErrorInfo {
        match self {
            Error::AppNotFound(name) => ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "APP_NOT_FOUND",
                format!("app {name} not found"),
            ),
            Error::Invalid(message) => ErrorInfo::bad_request(message.clone()),
            Error::Sealed(e) => ErrorInfo::internal(e),
            Error::Db(e) if e.is_unique_violation() => {
                ErrorInfo::new(StatusCode::CONFLICT, "CONFLICT", "already exists")
            }
            Error::Db(e) => ErrorInfo::from(e),
        }
    }
}
