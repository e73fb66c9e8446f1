//! The gateway: one public entry for every route of the platform. It matches the
//! tenant-prefixed path to the owning service and streams the request there and the reply
//! back. Bearer checks and rate limits come in front of the proxy as further phases.

pub mod client_address;
pub mod cors;
pub mod in_process;
pub mod rate_limit;
pub mod route_table;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use async_trait::async_trait;
use idp_shared::ServiceKind;
use idp_shared::bearer::BearerVerifier;
use idp_shared::cache::SharedCache;
use idp_shared::config::Settings;
use idp_shared::health::{CheckResult, Probes, ReadyCheck};
use idp_shared::http_client::ServiceClient;
use idp_shared::service::StartError;
use idp_shared::telemetry::Metrics;
use prometheus::IntCounterVec;

pub use route_table::RouteTable;

/// What every gateway worker shares.
#[derive(Clone)]
pub struct State {
    pub settings: Arc<Settings>,
    pub routes: Arc<RouteTable>,
    pub metrics: web::Data<Metrics>,
    pub probes: Probes,
    /// The upstream client for a worker whose own could not be built (see [`configure`]).
    pub upstream: web::Data<routes::proxy::Upstream>,
    /// Proxy failures by service and kind (connect, timeout, body_too_large, ...).
    pub upstream_errors: IntCounterVec,
    /// Requests refused for want of a valid bearer token, by service.
    pub rejected: IntCounterVec,
    /// Checks bearer tokens against the tenants' published keys.
    pub verifier: Arc<BearerVerifier>,
    /// Requests refused by a rate limit, by route group.
    pub rate_limited: IntCounterVec,
    /// Where rate-limit buckets live (shared by every replica with Redis).
    pub cache: SharedCache,
    pub proxies: client_address::TrustedProxies,
    /// For the allowed-origins lookups of CORS.
    pub client: ServiceClient,
    /// Services running in this process (the all-in-one): called directly, not over HTTP.
    pub in_process: Arc<in_process::InProcessServices>,
}

impl State {
    pub fn new(settings: Arc<Settings>, cache: SharedCache) -> Result<State, StartError> {
        let routes = RouteTable::from_config(&settings.gateway.routes)
            .map_err(|e| StartError::Other(format!("gateway.routes: {e}")))?;
        let metrics = web::Data::new(Metrics::new("gateway"));
        let upstream_errors = IntCounterVec::new(
            prometheus::Opts::new(
                "gateway_upstream_errors_total",
                "Requests the gateway could not complete upstream",
            ),
            &["service", "kind"],
        )
        .map_err(|e| StartError::Other(e.to_string()))?;
        metrics
            .registry()
            .register(Box::new(upstream_errors.clone()))
            .map_err(|e| StartError::Other(e.to_string()))?;
        let rejected = IntCounterVec::new(
            prometheus::Opts::new(
                "gateway_unauthenticated_total",
                "Requests refused without a valid bearer token",
            ),
            &["service"],
        )
        .map_err(|e| StartError::Other(e.to_string()))?;
        metrics
            .registry()
            .register(Box::new(rejected.clone()))
            .map_err(|e| StartError::Other(e.to_string()))?;
        let rate_limited = IntCounterVec::new(
            prometheus::Opts::new(
                "gateway_rate_limited_total",
                "Requests refused by a rate limit",
            ),
            &["group"],
        )
        .map_err(|e| StartError::Other(e.to_string()))?;
        metrics
            .registry()
            .register(Box::new(rate_limited.clone()))
            .map_err(|e| StartError::Other(e.to_string()))?;
        let proxies = client_address::TrustedProxies::new(&settings.gateway.trusted_proxies);
        let verifier = Arc::new(BearerVerifier::new(
            &settings,
            ServiceClient::new(&settings)?,
            cache.clone(),
        ));
        let mut probes = Probes::new(None, cache.clone());
        if settings.gateway.readiness_checks_upstreams {
            probes = probes.with_check(Arc::new(Upstreams {
                client: ServiceClient::new(&settings)?,
            }));
        }
        let upstream = web::Data::new(routes::proxy::Upstream::new(&settings.gateway)?);
        Ok(State {
            client: ServiceClient::new(&settings)?,
            rate_limited,
            cache,
            proxies,
            rejected,
            verifier,
            upstream,
            settings,
            routes: Arc::new(routes),
            metrics,
            probes,
            upstream_errors,
            in_process: Arc::new(Vec::new()),
        })
    }
}

/// Registers health, metrics and the proxy for every other path.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    idp_shared::health::configure(cfg, state.probes.clone(), state.metrics.clone());
    // Each worker calls this on its own thread: with a connection pool of its own, a pooled
    // connection's task runs on the worker that uses it, and a proxied request wakes no
    // other thread. (The same settings built one in `State::new`, so this does not fail.)
    let upstream = routes::proxy::Upstream::new(&state.settings.gateway)
        .map(web::Data::new)
        .unwrap_or_else(|_| state.upstream.clone());
    if !state.in_process.is_empty() {
        // Per worker, like the pool above: the apps run on this thread.
        cfg.app_data(in_process::LocalApps::new(&state.in_process));
    }
    cfg.app_data(upstream)
        .app_data(web::Data::new(state))
        .default_service(web::to(routes::proxy::forward));
}

/// Readiness of the platform behind the gateway: every service's own `/health/ready`.
struct Upstreams {
    client: ServiceClient,
}

#[async_trait]
impl ReadyCheck for Upstreams {
    async fn check(&self) -> Vec<CheckResult> {
        let asks = ServiceKind::SERVICES.map(|kind| {
            let request = self
                .client
                .request(reqwest::Method::GET, kind, "/health/ready")
                .timeout(Duration::from_secs(2));
            async move {
                let outcome = match request.send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("answered {}", r.status().as_u16())),
                    Err(e) if e.is_timeout() => Err("timed out".to_owned()),
                    Err(_) => Err("unreachable".to_owned()),
                };
                (format!("upstream {}", kind.binary()), outcome)
            }
        });
        futures_util::future::join_all(asks).await
    }
}

/// A gateway serving in this process.
pub struct RunningGateway {
    pub url: String,
    pub handle: actix_web::dev::ServerHandle,
    pub probes: Probes,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningGateway {
    /// Readiness goes 503 first, then in-flight requests finish.
    pub async fn stop(&self) {
        self.probes.start_draining();
        self.handle.stop(true).await;
    }
}

/// Starts the gateway on `listener` (inside a running actix/tokio runtime).
pub fn start(
    settings: Arc<Settings>,
    cache: SharedCache,
    listener: std::net::TcpListener,
    workers: Option<usize>,
) -> Result<RunningGateway, StartError> {
    start_with_services(settings, cache, listener, workers, Vec::new())
}

/// Like [`start`], serving the routes of `services` (run by this process) in the gateway's
/// own workers instead of proxying to them.
pub fn start_with_services(
    settings: Arc<Settings>,
    cache: SharedCache,
    listener: std::net::TcpListener,
    workers: Option<usize>,
    services: in_process::InProcessServices,
) -> Result<RunningGateway, StartError> {
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let mut state = State::new(settings.clone(), cache)?;
    state.in_process = Arc::new(services);
    let probes = state.probes.clone();
    let workers = workers
        .or(settings.http.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let server = idp_shared::service::serve(
        listener,
        workers,
        settings.http.shutdown_timeout_secs,
        Duration::from_millis(settings.gateway.client_request_timeout_ms.max(100)),
        move |cfg| configure(cfg, state.clone()),
    )
    .map_err(|source| StartError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    Ok(RunningGateway {
        url: format!("http://{addr}"),
        handle: server.handle(),
        probes,
        task: tokio::spawn(server),
    })
}
