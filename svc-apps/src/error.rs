//! svc-apps' one error enum, mapped to status, code and message once.

use actix_web::http::StatusCode;
use idp_shared::cache::CacheError;
use idp_shared::db::DbError;
use idp_shared::error::{DomainError, ErrorInfo};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tenant {0} not found")]
    TenantNotFound(String),
    #[error("app {0} not found")]
    AppNotFound(String),
    #[error("app {0} already exists")]
    AppExists(String),
    #[error("role {0} not found")]
    RoleNotFound(String),
    #[error("role {0} already exists")]
    RoleExists(String),
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this (401/403 from `idp_shared::admin`).
    #[error("{0}")]
    Refused(ErrorInfo),
    /// Another service did not answer as it should; `cause` is for the log only.
    #[error("{service}: {cause}")]
    Upstream {
        service: &'static str,
        cause: String,
    },
    #[error("stored secret cannot be opened")]
    Sealed(#[from] idp_shared::security::SecurityError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ErrorInfo> for Error {
    fn from(info: ErrorInfo) -> Self {
        Error::Refused(info)
    }
}

impl DomainError for Error {
    fn info(&self) -> ErrorInfo {
        match self {
            Error::TenantNotFound(name) => ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "TENANT_NOT_FOUND",
                format!("tenant {name} not found"),
            ),
            Error::AppNotFound(name) => ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "APP_NOT_FOUND",
                format!("app {name} not found"),
            ),
            Error::AppExists(name) => ErrorInfo::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!("Client {name} already exists"),
            ),
            Error::RoleNotFound(name) => ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "ROLE_NOT_FOUND",
                format!("Could not find role {name}"),
            ),
            Error::RoleExists(name) => ErrorInfo::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!("Role with name {name} already exists"),
            ),
            Error::Invalid(message) => ErrorInfo::bad_request(message.clone()),
            Error::Refused(info) => info.clone(),
            Error::Upstream { service, cause } => {
                tracing::warn!(service, cause, "a service call failed");
                ErrorInfo::unavailable(format!("{service} did not answer as expected; retry"))
            }
            Error::Sealed(e) => ErrorInfo::internal(e),
            Error::Cache(e) => ErrorInfo::from(e),
            Error::Db(e) if e.is_unique_violation() => {
                ErrorInfo::new(StatusCode::CONFLICT, "CONFLICT", "already exists")
            }
            Error::Db(e) => ErrorInfo::from(e),
        }
    }
}
