//! In-process dispatch, for the all-in-one binary: the services run in the gateway's process,
//! so each gateway worker builds their apps once and calls them directly. A request then
//! crosses no socket and wakes no second thread between the gateway and the service; it meets
//! the same guards in the same order (route, rate limit, CORS, bearer check) and reaches the
//! service with the same headers as over HTTP. Separately deployed, the gateway proxies.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use actix_web::dev::{Payload, Service};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{StatusCode, Uri, Version};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use idp_shared::ServiceKind;
use idp_shared::service::{AppRoutes, LocalService, local_service};
use tokio::sync::OnceCell;

/// The services this process runs, by kind: shared by every gateway worker.
pub type InProcessServices = Vec<(ServiceKind, AppRoutes)>;

/// One worker's copies of the in-process services' apps, each built on first use.
pub struct LocalApps {
    apps: Vec<(ServiceKind, AppRoutes, OnceCell<Rc<LocalService>>)>,
}

impl LocalApps {
    pub fn new(services: &InProcessServices) -> LocalApps {
        LocalApps {
            apps: services
                .iter()
                .map(|(kind, routes)| (*kind, routes.clone(), OnceCell::new()))
                .collect(),
        }
    }

    /// The service's app on this worker, if it runs in this process.
    async fn app(&self, kind: ServiceKind) -> Option<Rc<LocalService>> {
        let (_, routes, cell) = self.apps.iter().find(|(k, _, _)| *k == kind)?;
        match cell
            .get_or_try_init(|| async { local_service(routes).await.map(Rc::new) })
            .await
        {
            Ok(app) => Some(app.clone()),
            Err(e) => {
                // Fall back to HTTP: the service's own server still listens.
                tracing::warn!(service = %kind, error = %e, "in-process app unavailable");
                None
            }
        }
    }
}

/// What the gateway decided to send: the prepared head of the request.
pub struct Outgoing<'a> {
    pub service: ServiceKind,
    /// Path (relative prefix stripped) and query as the service sees them.
    pub path_and_query: &'a str,
    /// Headers already filtered and completed with X-Forwarded-*, X-Request-Id and trace context.
    pub headers: HeaderMap,
    /// The service's address, its `Host` as over HTTP.
    pub authority: &'a str,
    pub has_body: bool,
    pub body_limit: u64,
    pub timeout: Duration,
}

/// The in-process app of `service`, if this process runs it.
pub async fn app_for(req: &HttpRequest, service: ServiceKind) -> Option<Rc<LocalService>> {
    req.app_data::<LocalApps>()?.app(service).await
}

/// Calls the service's app on this worker and returns its reply; a path that is no valid URI
/// fails as `Malformed` (400) and no reply within `timeout` as `Timeout` (504).
pub async fn send(
    req: &HttpRequest,
    payload: web::Payload,
    app: &LocalService,
    outgoing: Outgoing<'_>,
) -> Result<HttpResponse, Failure> {
    let uri = Uri::try_from(outgoing.path_and_query).map_err(|_| Failure::Malformed)?;
    let body = if outgoing.has_body {
        let limit = outgoing.body_limit;
        let mut seen: u64 = 0;
        let limited = payload.into_inner().map(move |chunk| {
            let chunk = chunk?;
            seen += chunk.len() as u64;
            if seen > limit {
                return Err(PayloadError::Overflow);
            }
            Ok(chunk)
        });
        let stream: actix_http::BoxedPayloadStream = Box::pin(limited);
        Payload::Stream { payload: stream }
    } else {
        Payload::None
    };
    let mut inner = actix_http::Request::with_payload(body);
    let head = inner.head_mut();
    head.method = req.method().clone();
    head.uri = uri;
    head.version = Version::HTTP_11;
    head.headers = outgoing.headers;
    if let Ok(host) = HeaderValue::from_str(outgoing.authority) {
        head.headers.insert(header::HOST, host);
    }
    // The gateway is the service's peer, as over loopback; the client is in X-Forwarded-For.
    head.peer_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    match tokio::time::timeout(outgoing.timeout, app.call(inner)).await {
        Ok(Ok(reply)) => Ok(reply.into()),
        Ok(Err(e)) => Ok(e.as_response_error().error_response()),
        Err(_) => {
            tracing::warn!(service = %outgoing.service, "in-process service timed out");
            Err(Failure::Timeout)
        }
    }
}

/// Why an in-process call produced no reply of the service's.
pub enum Failure {
    Malformed,
    Timeout,
}

impl Failure {
    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Malformed => StatusCode::BAD_REQUEST,
            Failure::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}
