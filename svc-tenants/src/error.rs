//! svc-tenants' one error enum, mapped to status, code and message once.

use actix_web::http::StatusCode;
use idp_shared::db::DbError;
use idp_shared::error::{DomainError, ErrorInfo};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tenant {0} not found")]
    TenantNotFound(String),
    #[error("tenant {0} already exists")]
    TenantExists(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl DomainError for Error {
    fn info(&self) -> ErrorInfo {
        match self {
            Error::TenantNotFound(name) => ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "TENANT_NOT_FOUND",
                format!("tenant {name} not found"),
            ),
            Error::TenantExists(name) => ErrorInfo::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!("tenant {name} already exists"),
            ),
            Error::Invalid(message) => ErrorInfo::bad_request(message.clone()),
            Error::Db(e) if e.is_unique_violation() => {
                ErrorInfo::new(StatusCode::CONFLICT, "CONFLICT", "already exists")
            }
            Error::Db(e) => ErrorInfo::from(e),
        }
    }
}
