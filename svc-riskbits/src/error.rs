//! svc-riskbits' one error enum, mapped to status, code and message once.

use actix_web::http::StatusCode;
use idp_shared::db::DbError;
use idp_shared::error::{DomainError, ErrorInfo};
use idp_shared::http_client::LookupError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    /// The seed's wording, so KOBIL clients see the message they know.
    #[error("Mismatch in realm specified in path param and request body")]
    RealmMismatch,
    #[error("riskbit {0} not found")]
    RiskbitNotFound(String),
    #[error("realm {0} not found")]
    RealmNotFound(String),
    #[error("a riskbit with ratingLevel {0} already exists in this realm")]
    DuplicateRatingLevel(String),
    /// The caller's token does not allow the operation (the shared admin check's answer).
    #[error("{0}")]
    Denied(ErrorInfo),
    #[error("tenant lookup failed: {0}")]
    TenantLookup(#[from] LookupError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl DomainError for Error {
    fn info(&self) -> ErrorInfo {
        match self {
            Error::Invalid(_) | Error::RealmMismatch => ErrorInfo::bad_request(self.to_string()),
            Error::RiskbitNotFound(_) => {
                ErrorInfo::new(StatusCode::NOT_FOUND, "RISKBIT_NOT_FOUND", self.to_string())
            }
            Error::RealmNotFound(_) => {
                ErrorInfo::new(StatusCode::NOT_FOUND, "TENANT_NOT_FOUND", self.to_string())
            }
            Error::DuplicateRatingLevel(_) => {
                ErrorInfo::new(StatusCode::CONFLICT, "CONFLICT", self.to_string())
            }
            Error::Denied(info) => info.clone(),
            Error::TenantLookup(e) => {
                tracing::warn!(error = %e, "tenant lookup failed");
                ErrorInfo::unavailable("the tenant directory is unreachable; retry shortly")
            }
            Error::Db(e) => ErrorInfo::from(e),
        }
    }
}
