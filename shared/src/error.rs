//! The one place where errors become HTTP replies.
//!
//! Each crate has one error enum and implements [`DomainError`] for it once (status, code,
//! message). A route then picks the reply shape its API uses by its return type:
//! `Result<T, Keycloak<E>>`, `Kobil<E, 5>`, `OAuth<E>`, `Folio<E>` or `Plain<E>`; `?` converts.
//! A 5xx never carries its cause: the cause is logged under a correlation id and the reply
//! carries only that id.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// What a crate's error enum says about one error.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    /// Machine-readable code: `USER_NOT_FOUND` (KOBIL), `invalid_grant` (OAuth), ...
    pub code: Cow<'static, str>,
    /// Human-readable, safe to show: never a secret, SQL text or internal detail.
    pub message: String,
    /// For a 500: the cause, logged under a correlation id when the reply is rendered and
    /// never sent.
    cause: Option<String>,
}

impl ErrorInfo {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ErrorInfo {
            status,
            code: code.into(),
            message: message.into(),
            cause: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message)
    }

    /// An internal failure. `cause` goes to the log only, when the reply is rendered.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        ErrorInfo {
            cause: Some(cause.to_string()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "internal error",
            )
        }
    }
}

/// Implemented once per crate for its error enum.
pub trait DomainError: fmt::Debug + fmt::Display {
    fn info(&self) -> ErrorInfo;
}

impl DomainError for ErrorInfo {
    fn info(&self) -> ErrorInfo {
        self.clone()
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl From<&crate::db::DbError> for ErrorInfo {
    fn from(e: &crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Unavailable(_) => {
                tracing::warn!(error = %e, "database unavailable");
                ErrorInfo::unavailable("the database is busy or unreachable; retry shortly")
            }
            other => ErrorInfo::internal(other),
        }
    }
}

impl From<crate::db::DbError> for ErrorInfo {
    fn from(e: crate::db::DbError) -> Self {
        ErrorInfo::from(&e)
    }
}

impl From<&crate::cache::CacheError> for ErrorInfo {
    fn from(e: &crate::cache::CacheError) -> Self {
        tracing::warn!(error = %e, "cache unavailable");
        ErrorInfo::unavailable("the cache is unreachable; retry shortly")
    }
}

impl From<crate::cache::CacheError> for ErrorInfo {
    fn from(e: crate::cache::CacheError) -> Self {
        ErrorInfo::from(&e)
    }
}

/// The reply shapes of `shared/spec/API.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// KOBIL management API: `{message, status, subSystem, data}`.
    Kobil(u8),
    /// Keycloak admin REST: `{error, errorMessage}`.
    Keycloak,
    /// RFC 6749 §5.2: `{error, error_description}`.
    OAuth,
    /// FOLIO: `{errors:[{message,type,code,parameters}], total_records}`.
    Folio,
    /// Anything else (health, gateway, riskbits): `{error, message}`.
    Plain,
}

/// Renders one error in one shape. Every error reply of the platform goes through here.
pub fn render(shape: Shape, info: &ErrorInfo) -> HttpResponse {
    let referenced;
    let info = match &info.cause {
        Some(cause) => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            tracing::error!(correlation_id = %id, error = %cause, "internal error");
            referenced = ErrorInfo::new(
                info.status,
                info.code.clone(),
                format!("internal error; reference {id}"),
            );
            &referenced
        }
        None => info,
    };
    let body = match shape {
        Shape::Kobil(sub_system) => json!({
            "message": info.message,
            "status": info.code,
            "subSystem": sub_system,
            "data": null,
        }),
        Shape::Keycloak => json!({ "error": info.code, "errorMessage": info.message }),
        Shape::OAuth => json!({ "error": info.code, "error_description": info.message }),
        Shape::Folio => json!({
            "errors": [{
                "message": info.message,
                "type": "error",
                "code": info.code,
                "parameters": [],
            }],
            "total_records": 1,
        }),
        Shape::Plain => json!({ "error": info.code, "message": info.message }),
    };
    let mut reply = HttpResponse::build(info.status);
    if info.status == StatusCode::UNAUTHORIZED {
        let challenge = match shape {
            Shape::OAuth if info.code == "invalid_client" => "Basic realm=\"idp\"".to_owned(),
            _ => format!("Bearer error=\"{}\"", bearer_error(&info.code)),
        };
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            reply.insert_header((header::WWW_AUTHENTICATE, v));
        }
    }
    if shape == Shape::OAuth {
        reply.insert_header((header::CACHE_CONTROL, "no-store"));
    }
    reply.json(body)
}

fn bearer_error(code: &str) -> &str {
    match code {
        "invalid_request" | "insufficient_scope" => code,
        _ => "invalid_token",
    }
}

macro_rules! reply_shape {
    ($(#[$doc:meta])* $name:ident $(<const $c:ident: u8>)?, $shape:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<E $(, const $c: u8 = 0)?>(pub E);

        impl<E: DomainError $(, const $c: u8)?> From<E> for $name<E $(, $c)?> {
            fn from(e: E) -> Self {
                $name(e)
            }
        }

        impl<E: DomainError $(, const $c: u8)?> fmt::Display for $name<E $(, $c)?> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl<E: DomainError $(, const $c: u8)?> ResponseError for $name<E $(, $c)?> {
            fn status_code(&self) -> StatusCode {
                self.0.info().status
            }
            fn error_response(&self) -> HttpResponse {
                render($shape, &self.0.info())
            }
        }
    };
}

reply_shape!(
    /// A route of the Keycloak admin API.
    Keycloak, Shape::Keycloak);
reply_shape!(
    /// A route of the KOBIL management API; `SUB` is its subSystem number.
    Kobil<const SUB: u8>, Shape::Kobil(SUB));
reply_shape!(
    /// An OAuth 2.0 / OIDC endpoint.
    OAuth, Shape::OAuth);
reply_shape!(
    /// A FOLIO route.
    Folio, Shape::Folio);
reply_shape!(
    /// Anything without an API-specific shape.
    Plain, Shape::Plain);

/// Extractor configs whose failures (malformed JSON, bad query, oversized body) answer 400/413
/// in the given shape, with the parser's message and nothing else.
pub fn extractor_configs(shape: Shape, max_body_bytes: usize) -> ExtractorConfigs {
    let json = actix_web::web::JsonConfig::default()
        .limit(max_body_bytes)
        .error_handler(move |err, _req| {
            let info = payload_error_info(&err);
            actix_web::error::InternalError::from_response(err, render(shape, &info)).into()
        });
    let form = actix_web::web::FormConfig::default()
        .limit(max_body_bytes)
        .error_handler(move |err, _req| {
            // OAuth endpoints answer every malformed body 400 invalid_request (RFC 6749 §5.2).
            let status = match (shape, err.status_code()) {
                (_, StatusCode::PAYLOAD_TOO_LARGE) => StatusCode::PAYLOAD_TOO_LARGE,
                (Shape::OAuth, _) => StatusCode::BAD_REQUEST,
                (_, status) => status,
            };
            let info = ErrorInfo::new(
                status,
                status_code_name(shape, status),
                format!("invalid form body: {err}"),
            );
            actix_web::error::InternalError::from_response(err, render(shape, &info)).into()
        });
    let query = actix_web::web::QueryConfig::default().error_handler(move |err, _req| {
        let info = ErrorInfo::new(
            StatusCode::BAD_REQUEST,
            status_code_name(shape, StatusCode::BAD_REQUEST),
            format!("invalid query string: {err}"),
        );
        actix_web::error::InternalError::from_response(err, render(shape, &info)).into()
    });
    let path = actix_web::web::PathConfig::default().error_handler(move |err, _req| {
        let info = ErrorInfo::new(
            StatusCode::NOT_FOUND,
            status_code_name(shape, StatusCode::NOT_FOUND),
            format!("no such resource: {err}"),
        );
        actix_web::error::InternalError::from_response(err, render(shape, &info)).into()
    });
    ExtractorConfigs {
        json,
        form,
        query,
        path,
    }
}

pub struct ExtractorConfigs {
    pub json: actix_web::web::JsonConfig,
    pub form: actix_web::web::FormConfig,
    pub query: actix_web::web::QueryConfig,
    pub path: actix_web::web::PathConfig,
}

impl ExtractorConfigs {
    /// Registers all four on a scope or app config.
    pub fn register(self, cfg: &mut actix_web::web::ServiceConfig) {
        cfg.app_data(self.json)
            .app_data(self.form)
            .app_data(self.query)
            .app_data(self.path);
    }
}

fn payload_error_info(err: &actix_web::error::JsonPayloadError) -> ErrorInfo {
    use actix_web::error::JsonPayloadError as J;
    let (status, message) = match err {
        J::OverflowKnownLength { .. } | J::Overflow { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is too large".to_owned(),
        ),
        J::ContentType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json".to_owned(),
        ),
        J::Deserialize(e) => (StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")),
        other => (StatusCode::BAD_REQUEST, format!("invalid body: {other}")),
    };
    ErrorInfo::new(status, "BAD_REQUEST", message)
}

/// The code a shape uses for a bare status.
fn status_code_name(shape: Shape, status: StatusCode) -> &'static str {
    match (shape, status) {
        (Shape::OAuth, _) => "invalid_request",
        (_, StatusCode::NOT_FOUND) => "NOT_FOUND",
        (_, StatusCode::PAYLOAD_TOO_LARGE) => "PAYLOAD_TOO_LARGE",
        _ => "BAD_REQUEST",
    }
}

/// The reply for a path no route matches: 404 with a JSON body.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    render(
        Shape::Plain,
        &ErrorInfo::not_found(format!("no route for {} {}", req.method(), req.path())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[derive(Debug)]
    struct Boom;
    impl fmt::Display for Boom {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("password=hunter2 at SELECT * FROM secrets")
        }
    }

    async fn body_of(resp: HttpResponse) -> serde_json::Value {
        serde_json::from_slice(&to_bytes(resp.into_body()).await.unwrap()).unwrap()
    }

    #[actix_web::test]
    async fn internal_errors_carry_only_a_reference() {
        let info = ErrorInfo::internal(&Boom);
        let body = body_of(render(Shape::Keycloak, &info)).await;
        let text = body.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("SELECT"),
            "{text}"
        );
        assert!(text.contains("reference"), "{text}");
        assert_eq!(info.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[actix_web::test]
    async fn each_shape_has_its_fields() {
        let info = ErrorInfo::new(StatusCode::NOT_FOUND, "USER_NOT_FOUND", "no user bob");
        let kobil = body_of(render(Shape::Kobil(5), &info)).await;
        assert_eq!(kobil["status"], "USER_NOT_FOUND");
        assert_eq!(kobil["subSystem"], 5);
        assert_eq!(kobil["message"], "no user bob");
        let folio = body_of(render(Shape::Folio, &info)).await;
        assert_eq!(folio["errors"][0]["message"], "no user bob");
        assert_eq!(folio["total_records"], 1);
        let kc = body_of(render(Shape::Keycloak, &info)).await;
        assert_eq!(kc["errorMessage"], "no user bob");
    }

    #[actix_web::test]
    async fn oauth_errors_are_not_cached_and_401_challenges() {
        let info = ErrorInfo::new(StatusCode::UNAUTHORIZED, "invalid_client", "bad client");
        let resp = render(Shape::OAuth, &info);
        assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
        assert!(resp.headers().get("www-authenticate").is_some());
        let body = body_of(resp).await;
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_description"], "bad client");

        let bearer = ErrorInfo::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "no token");
        let resp = render(Shape::Plain, &bearer);
        assert_eq!(
            resp.headers().get("www-authenticate").unwrap(),
            "Bearer error=\"invalid_token\""
        );
    }

    #[actix_web::test]
    async fn a_wrapper_renders_its_shape() {
        let err: Kobil<ErrorInfo, 2> = ErrorInfo::not_found("no app x").into();
        assert_eq!(err.status_code(), StatusCode::NOT_FOUND);
        let body = body_of(err.error_response()).await;
        assert_eq!(body["subSystem"], 2);
    }
}
