//! The hosted pages: server-rendered HTML (askama templates in `templates/`, escaped at
//! compile-time-checked placeholders), no external assets, and a Content-Security-Policy per
//! reply that allows exactly what the page needs: its own inline style (and script, where
//! there is one) by a fresh nonce, and form posts to itself and to the one application it
//! may send the browser back to.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use askama::Template;
use idp_shared::error::DomainError;
use idp_shared::security::random_token;
use reqwest::Url;

use crate::error::Error;

/// What one reply of a hosted page may do besides showing itself.
#[derive(Debug, Default, Clone)]
pub struct Allow {
    /// Origins (or `scheme:` for apps with custom schemes) forms may post or redirect to.
    pub form_targets: Vec<String>,
    /// The page runs its own inline script.
    pub script: bool,
    /// Who may frame it (`'none'` when empty).
    pub frame_ancestors: Option<&'static str>,
}

impl Allow {
    /// A page whose form ends, through redirects, at `uri` (the app's redirect URI).
    pub fn posting_to(uri: &str) -> Allow {
        Allow {
            form_targets: source_of(uri).into_iter().collect(),
            ..Allow::default()
        }
    }
}

/// The CSP source expression that admits `uri`: its origin, or `scheme:` for a custom scheme.
pub fn source_of(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

/// A fresh nonce for one reply's inline style and script.
pub fn nonce() -> String {
    random_token(18)
}

fn policy(nonce: &str, allow: &Allow) -> String {
    let mut csp = format!("default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; ");
    if allow.script {
        csp.push_str(&format!("script-src 'nonce-{nonce}'; "));
    }
    csp.push_str("form-action 'self'");
    for target in &allow.form_targets {
        csp.push(' ');
        csp.push_str(target);
    }
    csp.push_str("; frame-ancestors ");
    csp.push_str(allow.frame_ancestors.unwrap_or("'none'"));
    csp
}

/// The reply of a hosted page: HTML, never cached, its own CSP.
pub fn reply(status: StatusCode, nonce: &str, allow: &Allow) -> HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if let Ok(value) = HeaderValue::from_str(&policy(nonce, allow)) {
        builder.insert_header((header::CONTENT_SECURITY_POLICY, value));
    }
    if allow.frame_ancestors.is_some() {
        // The CSP's frame-ancestors decides; browsers ignore this header beside it, but the
        // platform's default (DENY) would contradict it for those that do not.
        builder.insert_header((header::X_FRAME_OPTIONS, "SAMEORIGIN"));
    }
    builder
}

/// Renders a template into a reply.
pub fn render(
    template: &impl Template,
    status: StatusCode,
    nonce: &str,
    allow: &Allow,
) -> HttpResponse {
    match template.render() {
        Ok(body) => reply(status, nonce, allow).body(body),
        Err(e) => PageError::from(Error::Upstream(format!("template: {e}"))).error_response(),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub realm_display: &'a str,
    pub nonce: &'a str,
    pub heading: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    pub link: Option<&'a str>,
    pub link_text: &'a str,
}

/// A page with one message and, optionally, one link.
pub fn message(
    status: StatusCode,
    realm_display: &str,
    heading: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> HttpResponse {
    let nonce = nonce();
    let page = MessagePage {
        realm_display,
        nonce: &nonce,
        heading,
        message,
        is_error: status.is_client_error() || status.is_server_error(),
        link: link.map(|(url, _)| url),
        link_text: link.map_or("", |(_, text)| text),
    };
    render(&page, status, &nonce, &Allow::default())
}

/// An error a browser sees as a page (never a redirect: the request may name a redirect URI
/// nobody registered). 4xx carry their message; a 5xx only a reference, its cause is logged.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    /// The tenant's display name, when the error happened inside a tenant.
    pub realm_display: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
            realm_display: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn in_realm(mut self, display: &str) -> PageError {
        self.realm_display = Some(display.to_owned());
        self
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        let info = e.info();
        let message = if info.status.is_server_error()
            && info.status != StatusCode::SERVICE_UNAVAILABLE
        {
            let id = uuid::Uuid::new_v4().simple().to_string();
            tracing::error!(correlation_id = %id, error = %e, "internal error on a hosted page");
            format!("Something went wrong on our side (reference {id}). Please try again.")
        } else {
            info.message
        };
        PageError::new(info.status, message)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let nonce = nonce();
        let page = MessagePage {
            realm_display: self.realm_display.as_deref().unwrap_or("Sign in"),
            nonce: &nonce,
            heading: "We are sorry…",
            message: &self.message,
            is_error: true,
            link: None,
            link_text: "",
        };
        match page.render() {
            Ok(body) => reply(self.status, &nonce, &Allow::default()).body(body),
            // The template is checked at compile time; this is only for completeness.
            Err(_) => HttpResponse::build(self.status)
                .content_type("text/plain; charset=utf-8")
                .body(self.message.clone()),
        }
    }
}

/// Extractor configs for hosted pages: a malformed query or form answers an error page.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| {
        let page = PageError::bad_request("The request's parameters could not be read.");
        actix_web::error::InternalError::from_response(err, page.error_response()).into()
    })
}

pub fn form_config(limit: usize) -> actix_web::web::FormConfig {
    actix_web::web::FormConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let page = PageError::bad_request("The form could not be read.");
            actix_web::error::InternalError::from_response(err, page.error_response()).into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_admits_only_what_the_page_needs() {
        let allow = Allow::posting_to("https://app.example:8443/cb?x=1");
        let csp = policy("n0nce", &allow);
        assert!(
            csp.starts_with("default-src 'none'; style-src 'nonce-n0nce';"),
            "{csp}"
        );
        assert!(!csp.contains("script-src"), "{csp}");
        assert!(
            csp.contains("form-action 'self' https://app.example:8443;"),
            "{csp}"
        );
        assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
        assert_eq!(
            source_of("com.example.app:/callback").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(source_of("not a uri"), None);
    }

    #[test]
    fn pages_escape_what_they_show() {
        let page = MessagePage {
            realm_display: "<b>Acme</b>",
            nonce: "n",
            heading: "h",
            message: "\"><script>alert(1)</script>",
            is_error: true,
            link: None,
            link_text: "",
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>alert(1)"), "{html}");
        assert!(!html.contains("<b>Acme</b>"), "{html}");
        assert!(html.contains("role=\"alert\""));
    }
}
