//! svc-tenants' one error enum, mapped to status, code and message once.

use actix_web::http::StatusCode;
use idp_shared::cache::CacheError;
use idp_shared::db::DbError;
use idp_shared::error::{DomainError, ErrorInfo};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tenant {0} not found")]
    TenantNotFound(String),
    #[error("tenant {0} already exists")]
    TenantExists(String),
    #[error("role {0} not found")]
    RoleNotFound(String),
    #[error("role {0} already exists")]
    RoleExists(String),
    #[error("setting {0} not found")]
    SettingNotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// Another request is creating this tenant right now.
    #[error("tenant {0} is being created")]
    Busy(String),
    /// A KOBIL tenant creation stopped at `step`; the tenant stays BLOCKED until retried.
    #[error("tenant {tenant} blocked at {step}: {cause}")]
    CreationBlocked {
        tenant: String,
        step: &'static str,
        cause: String,
    },
    /// Another service did not answer as it should; `cause` is for the log only.
    #[error("{service}: {cause}")]
    Upstream {
        service: &'static str,
        cause: String,
    },
    /// The caller may not do this (401/403 from `idp_shared::admin`).
    #[error("{0}")]
    Refused(ErrorInfo),
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
            Error::TenantExists(name) => ErrorInfo::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!("tenant {name} already exists"),
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
            Error::SettingNotFound(name) => {
                ErrorInfo::not_found(format!("the tenant has no setting {name:?}"))
            }
            Error::Invalid(message) => ErrorInfo::bad_request(message.clone()),
            Error::Busy(name) => ErrorInfo::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!("tenant {name} is being created by another request; retry shortly"),
            ),
            Error::CreationBlocked {
                tenant,
                step,
                cause,
            } => {
                tracing::warn!(tenant, step, cause, "tenant creation blocked");
                ErrorInfo::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "TENANT_CREATION_BLOCKED",
                    format!(
                        "tenant {tenant} is BLOCKED: step {step} failed; send the same request \
                         again to finish it"
                    ),
                )
            }
            Error::Upstream { service, cause } => {
                tracing::warn!(service, cause, "a service call failed");
                ErrorInfo::unavailable(format!("{service} did not answer as expected; retry"))
            }
            Error::Refused(info) => info.clone(),
            Error::Cache(e) => ErrorInfo::from(e),
            Error::Db(e) if e.is_unique_violation() => {
                ErrorInfo::new(StatusCode::CONFLICT, "CONFLICT", "already exists")
            }
            Error::Db(e) => ErrorInfo::from(e),
        }
    }
}
