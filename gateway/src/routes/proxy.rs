//! The streaming reverse proxy. Bodies flow through chunk by chunk in both directions (never
//! buffered whole); hop-by-hop headers are dropped; X-Forwarded-* and X-Request-Id are set;
//! failures answer JSON: 413 too large, 502 unreachable, 504 too slow.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt;
use idp_shared::config::GatewaySettings;
use idp_shared::error::{ErrorInfo, Shape, render};

use crate::State;
use crate::cors;
use crate::in_process;
use crate::rate_limit::{self, RouteGroup};
use crate::route_table::{Resolution, accepted_tenants};
use idp_shared::bearer::bearer_token;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The upstream client: hyper (through reqwest) flushes every body chunk as it comes, so a
/// slow upload or download streams through instead of waiting in the gateway.
pub struct Upstream {
    client: reqwest::Client,
    pub(crate) response_timeout: Duration,
}

impl Upstream {
    pub fn new(cfg: &GatewaySettings) -> Result<Upstream, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms.max(1)))
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Upstream {
            client,
            response_timeout: Duration::from_millis(cfg.upstream_timeout_ms.max(1)),
        })
    }
}

/// Chunks of the client's body in flight to the upstream at most; the rest waits in the
/// client's socket (backpressure), so a large upload never sits in the gateway's memory.
const BODY_CHANNEL_CHUNKS: usize = 4;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];

/// Hop-by-hop headers of one message: the fixed list, `upgrade`, and every header the
/// message's own `Connection` header names.
fn hop_by_hop(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = HOP_BY_HOP
        .iter()
        .map(|n| HeaderName::from_static(n))
        .chain([header::UPGRADE])
        .collect();
    for value in headers.get_all(header::CONNECTION) {
        if let Ok(v) = value.to_str() {
            names.extend(
                v.split(',')
                    .filter_map(|t| HeaderName::try_from(t.trim().to_ascii_lowercase()).ok()),
            );
        }
    }
    names
}

fn error_reply(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpResponse {
    render(Shape::Plain, &ErrorInfo::new(status, code, message))
}

/// A request id worth keeping: short, visible ASCII. Anything else is replaced.
fn request_id(req: &HttpRequest) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid header value")
        })
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ()> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or(()),
    }
}

pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
    upstream: web::Data<Upstream>,
) -> HttpResponse {
    let id = request_id(&req);
    let peer = req.peer_addr().map(|a| a.ip());
    let client = Client {
        ip: state.proxies.client_ip(peer, req.headers()),
        tls: state
            .proxies
            .client_used_tls(peer, req.app_config().secure(), req.headers()),
    };
    let mut reply = proxy(&req, payload, &state, &upstream, &id, &client).await;
    let headers = reply.headers_mut();
    headers.insert(REQUEST_ID, id);
    headers.remove(header::SERVER);
    if client.tls {
        // Only over TLS: a browser would otherwise pin HTTPS on a plain-HTTP deployment.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    reply
}

/// The client as the gateway sees it (trusted proxies accounted for).
struct Client {
    ip: Option<std::net::IpAddr>,
    tls: bool,
}

async fn proxy(
    req: &HttpRequest,
    payload: web::Payload,
    state: &State,
    upstream: &Upstream,
    request_id: &HeaderValue,
    client: &Client,
) -> HttpResponse {
    let relative = &state.settings.http.relative_path;
    let Some(path) = req
        .path()
        .strip_prefix(relative.as_str())
        .filter(|p| p.starts_with('/'))
    else {
        return error_reply(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no route for {}", req.path()),
        );
    };
    let route = match state.routes.resolve(path) {
        Resolution::Routed(route) => {
            // Metrics by route-table pattern: bounded, unlike raw paths.
            req.extensions_mut()
                .insert(idp_shared::telemetry::RouteLabel(route.pattern.to_owned()));
            route
        }
        Resolution::NotFound => {
            return error_reply(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("no route for {} {}", req.method(), req.path()),
            );
        }
        Resolution::Malformed => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "malformed request path",
            );
        }
    };
    let service = route.service;
    let okapi_tenant = req
        .headers()
        .get("x-okapi-tenant")
        .and_then(|v| v.to_str().ok());
    let tenants = accepted_tenants(path, okapi_tenant);
    // Phase: rate limit, before any work is spent on the request.
    if let (Some(group), Some(ip)) = (RouteGroup::of(path), client.ip) {
        let limits = &state.settings.gateway.rate_limits;
        if let Some(wait) = rate_limit::check(&*state.cache, limits, group, tenants[0], ip).await {
            state.rate_limited.with_label_values(&[group.name()]).inc();
            let mut reply = error_reply(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "too many requests; retry later",
            );
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            reply
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            return reply;
        }
    }
    // Phase: CORS. Preflights are answered here; other cross-origin replies are decorated.
    let cors = match req.headers().get(header::ORIGIN) {
        Some(origin) => Some(cors::grant(state, tenants[0], path, origin).await),
        None => None,
    };
    if let Some(grant) = &cors
        && req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return cors::preflight(
            grant,
            req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS),
        );
    }
    let target = Target {
        path,
        service,
        public: route.public,
        tenants: &tenants,
    };
    let mut reply =
        authenticate_and_send(req, payload, state, upstream, request_id, client, &target).await;
    if let Some(grant) = &cors {
        cors::decorate(reply.headers_mut(), grant);
    }
    reply
}

/// Where a request goes and what guards it.
struct Target<'a> {
    path: &'a str,
    service: idp_shared::ServiceKind,
    public: bool,
    tenants: &'a [&'a str],
}

async fn authenticate_and_send(
    req: &HttpRequest,
    payload: web::Payload,
    state: &State,
    upstream: &Upstream,
    request_id: &HeaderValue,
    client: &Client,
    target: &Target<'_>,
) -> HttpResponse {
    let Target {
        path,
        service,
        public,
        tenants,
    } = *target;
    // Phase: authenticate. Nothing reaches a protected service without a valid access token.
    if !public {
        let verified = match bearer_token(req.headers()) {
            Ok(token) => {
                let now = idp_shared::names::now_millis() / 1000;
                state.verifier.verify(token, tenants, now).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = verified {
            state.rejected.with_label_values(&[service.name()]).inc();
            tracing::debug!(service = %service, reason = %e, "bearer token refused");
            return render(Shape::Plain, &e.info());
        }
    }
    let fail = |kind: &str| {
        state
            .upstream_errors
            .with_label_values(&[service.name(), kind])
            .inc();
    };

    let limit = state.settings.gateway.max_body_bytes;
    let declared = match content_length(req.headers()) {
        Ok(n) => n,
        Err(()) => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "invalid Content-Length",
            );
        }
    };
    if declared.is_some_and(|n| n > limit) {
        fail("body_too_large");
        return error_reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body exceeds {limit} bytes"),
        );
    }

    let base = state.settings.services.get(service).unwrap_or_default();
    let url = match req.uri().query() {
        Some(q) => format!("{}{path}?{q}", base.trim_end_matches('/')),
        None => format!("{}{path}", base.trim_end_matches('/')),
    };
    let mut headers = HeaderMap::new();
    let drop_in = hop_by_hop(req.headers());
    for (name, value) in req.headers() {
        if !drop_in.contains(name) && name != header::HOST && !is_forwarding(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    set_forwarding(req, &mut headers, client);
    headers.insert(REQUEST_ID, request_id.clone());
    idp_shared::telemetry::inject_trace_headers(&mut headers);
    if let Some(n) = declared {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }

    let chunked = req
        .headers()
        .get(header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    if let Some(app) = in_process::app_for(req, service).await {
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        let outgoing = in_process::Outgoing {
            service,
            path_and_query: &path_and_query,
            headers,
            authority: authority(base),
            has_body: declared.unwrap_or(0) > 0 || chunked,
            body_limit: limit,
            timeout: upstream.response_timeout,
        };
        return match in_process::send(req, payload, &app, outgoing).await {
            Ok(reply) => reply,
            Err(failure @ in_process::Failure::Malformed) => {
                error_reply(failure.status(), "BAD_REQUEST", "malformed request path")
            }
            Err(failure @ in_process::Failure::Timeout) => {
                fail("timeout");
                error_reply(
                    failure.status(),
                    "UPSTREAM_TIMEOUT",
                    format!("{} did not answer in time", service.binary()),
                )
            }
        };
    }
    let overflowed = Rc::new(Cell::new(false));
    let Ok(method) = reqwest::Method::from_bytes(req.method().as_str().as_bytes()) else {
        return error_reply(StatusCode::BAD_REQUEST, "BAD_REQUEST", "unsupported method");
    };
    let mut out = upstream
        .client
        .request(method, url)
        .headers(to_reqwest_headers(&headers));
    if declared.unwrap_or(0) > 0 || chunked {
        out = out.body(stream_body(payload, limit, overflowed.clone()));
    }

    let sent = tokio::time::timeout(upstream.response_timeout, out.send()).await;
    let response = match sent {
        Ok(Ok(r)) => r,
        _ if overflowed.get() => {
            fail("body_too_large");
            return error_reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("request body exceeds {limit} bytes"),
            );
        }
        Err(_elapsed) => {
            fail("timeout");
            tracing::warn!(service = %service, "upstream timed out");
            return error_reply(
                StatusCode::GATEWAY_TIMEOUT,
                "UPSTREAM_TIMEOUT",
                format!("{} did not answer in time", service.binary()),
            );
        }
        Ok(Err(e)) => {
            let kind = if e.is_connect() { "connect" } else { "send" };
            fail(kind);
            tracing::warn!(service = %service, error = %e, "upstream request failed");
            return error_reply(
                StatusCode::BAD_GATEWAY,
                "BAD_GATEWAY",
                format!("{} is unreachable", service.binary()),
            );
        }
    };

    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut reply = HttpResponse::build(status);
    let upstream_headers = from_reqwest_headers(response.headers());
    let drop_out = hop_by_hop(&upstream_headers);
    for (name, value) in &upstream_headers {
        if !drop_out.contains(name) && name != header::CONTENT_LENGTH {
            reply.append_header((name.clone(), value.clone()));
        }
    }
    let length = content_length(&upstream_headers).ok().flatten();
    let bodiless = req.method() == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if bodiless {
        return reply.finish();
    }
    let body = response.bytes_stream();
    match length {
        Some(n) => reply.body(SizedStream::new(n, body)),
        None => reply.streaming(body),
    }
}

/// Moves the client's body to the upstream chunk by chunk through a small channel (actix's
/// payload lives on this worker thread; hyper's body must be `Send`). Past `limit` bytes the
/// body ends in an error, which aborts the upstream request, and `overflowed` says why.
fn stream_body(mut payload: web::Payload, limit: u64, overflowed: Rc<Cell<bool>>) -> reqwest::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(BODY_CHANNEL_CHUNKS);
    actix_web::rt::spawn(async move {
        let mut seen: u64 = 0;
        while let Some(chunk) = payload.next().await {
            let item = match chunk {
                Ok(chunk) => {
                    seen += chunk.len() as u64;
                    if seen > limit {
                        overflowed.set(true);
                        Err(std::io::Error::other("request body too large"))
                    } else {
                        Ok(chunk)
                    }
                }
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

// actix and reqwest use different `http` crate versions: headers cross by name and bytes.
fn to_reqwest_headers(headers: &HeaderMap) -> reqwest::header::HeaderMap {
    let mut out = reqwest::header::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(n, v);
        }
    }
    out
}

fn from_reqwest_headers(headers: &reqwest::header::HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(n, v);
        }
    }
    out
}

/// `host:port` of a service's base URL.
fn authority(base: &str) -> &str {
    let rest = base.split_once("://").map_or(base, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

fn is_forwarding(name: &HeaderName) -> bool {
    name == "x-forwarded-proto" || name == "x-forwarded-host" || name == "x-forwarded-for"
}

/// X-Forwarded-For names the client as resolved here (the services trust only the gateway,
/// so they get one address, never a chain a client could have written); -Proto and -Host say
/// what the client used.
fn set_forwarding(req: &HttpRequest, headers: &mut HeaderMap, client: &Client) {
    if let Some(ip) = client.ip
        && let Ok(v) = HeaderValue::from_str(&ip.to_string())
    {
        headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    let scheme = if client.tls { "https" } else { "http" };
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(scheme),
    );
    if let Some(host) = req.headers().get(header::HOST) {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
}
