//! How every service starts, serves and stops, so each `main.rs` is a few lines and the
//! all-in-one binary starts the same services the same way.

use std::future::Future;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use actix_service::{IntoServiceFactory, ServiceExt};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{
    AppConfig, Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse,
};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};

use crate::admin::ErrorShape;
use crate::bearer::BearerVerifier;
use crate::cache::{self, SharedCache};
use crate::config::{ServiceKind, Settings};
use crate::db::{Db, Migrations};
use crate::error::Shape;
use crate::health::Probes;
use crate::http_client::ServiceClient;
use crate::telemetry::{self, Metrics};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] crate::config::SettingsError),
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// What every service is given: its settings, database, cache, metrics and client.
#[derive(Clone)]
pub struct ServiceContext {
    pub kind: ServiceKind,
    pub settings: Arc<Settings>,
    pub db: Db,
    pub cache: SharedCache,
    pub metrics: web::Data<Metrics>,
    pub client: ServiceClient,
    /// Verifies bearer tokens on admin and self-service routes.
    pub verifier: web::Data<BearerVerifier>,
    probes: Probes,
}

impl ServiceContext {
    /// Builds the context without waiting for the database: migrations are the caller's to
    /// run ([`Db::migrate`] or [`Db::migrate_with_retry`]).
    pub fn new(
        kind: ServiceKind,
        settings: Arc<Settings>,
        cache: SharedCache,
    ) -> Result<Self, StartError> {
        let db = Db::new(&settings, kind)?;
        let client = ServiceClient::new(&settings)?;
        let verifier = web::Data::new(BearerVerifier::new(
            &settings,
            client.clone(),
            cache.clone(),
        ));
        Ok(ServiceContext {
            verifier,
            kind,
            probes: Probes::new(Some(db.clone()), cache.clone()),
            db,
            cache,
            metrics: web::Data::new(Metrics::new(kind.name())),
            client,
            settings,
        })
    }

    /// The probes of this service; clones share the draining flag.
    pub fn probes(&self) -> Probes {
        self.probes.clone()
    }

    /// Health, metrics, extractor error shapes: what every service registers first.
    pub fn configure_common(&self, cfg: &mut web::ServiceConfig, shape: Shape) {
        crate::health::configure(cfg, self.probes(), self.metrics.clone());
        crate::error::extractor_configs(shape, self.settings.http.max_body_bytes).register(cfg);
        cfg.app_data(self.verifier.clone());
        cfg.app_data(web::Data::new(ErrorShape(shape)));
        cfg.app_data(web::Data::new(crate::security::ServiceToken(
            self.settings.security.service_token.clone(),
        )));
    }
}

/// A service crate's entry points, implemented by its `State`.
pub trait IdpService: Clone + Send + Sync + 'static {
    const KIND: ServiceKind;
    const MIGRATIONS: &'static Migrations;
    /// Builds the state from the context (its migrations may still be running).
    fn build(ctx: ServiceContext) -> impl Future<Output = Result<Self, StartError>>;
    /// Registers every route of the service.
    fn configure(cfg: &mut web::ServiceConfig, state: Self);
    /// Runs once the migrations are applied, before readiness turns green (e.g. creating the
    /// `master` tenant). Must be idempotent: every replica runs it at every start.
    fn bootstrap(&self) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
}

/// A part's routes, registrable on any actix worker: its own server's, and in the all-in-one
/// the gateway's, which serves the services' public routes in process (no loopback hop).
pub type AppRoutes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// The app every part serves: security headers, telemetry, a JSON 404, then the part's routes.
pub fn app(
    configure: impl FnOnce(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody + 'static>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // The JSON 404 first, so a part may replace it (the gateway proxies instead).
    App::new()
        .wrap(security_headers())
        .wrap(from_fn(telemetry::observe))
        .default_service(web::to(crate::error::not_found))
        .configure(configure)
}

/// A part's app running on the current worker thread, called without a socket in between.
pub type LocalService = actix_service::boxed::BoxService<
    actix_http::Request,
    ServiceResponse<BoxBody>,
    actix_web::Error,
>;

/// Builds `routes`' app on this worker thread, as its own server builds it on each of its.
pub async fn local_service(routes: &AppRoutes) -> Result<LocalService, StartError> {
    let routes = routes.clone();
    let factory = app(move |cfg| routes(cfg)).into_factory();
    let service = factory
        .new_service(AppConfig::default())
        .await
        .map_err(|()| StartError::Other("an app failed to initialise".into()))?;
    Ok(actix_service::boxed::service(
        service.map(ServiceResponse::map_into_boxed_body),
    ))
}

/// Starts an actix server for one part on a bound listener. Signals are handled by the
/// caller ([`shutdown_signal`]) so one process can stop several servers in order.
pub fn serve<F>(
    listener: TcpListener,
    workers: usize,
    shutdown_timeout_secs: u64,
    client_request_timeout: std::time::Duration,
    configure: F,
) -> std::io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    Ok(HttpServer::new(move || app(configure.clone()))
        .workers(workers.max(1))
        // A client that has not sent its request head by then gets 408 (slow-loris defence).
        .client_request_timeout(client_request_timeout)
        .shutdown_timeout(shutdown_timeout_secs)
        // Nagle would hold a streamed reply's body behind its head until the client's delayed
        // ACK (40 ms on Linux): every proxied reply streams, so the gateway's p99 was that delay.
        .tcp_nodelay(true)
        .disable_signals()
        .listen(listener)?
        .run())
}

/// Headers every reply carries unless its handler set its own (a hosted page sets a fuller
/// Content-Security-Policy): no MIME sniffing, no referrer leaks, no framing.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
}

pub fn bind(addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).map_err(|source| StartError::Bind {
        addr: addr.to_owned(),
        source,
    })
}

/// A service started in this process: its address, its server and the task driving it.
pub struct RunningService {
    pub kind: ServiceKind,
    pub url: String,
    pub ctx: ServiceContext,
    /// Its routes, for the all-in-one's gateway to serve in process.
    pub routes: AppRoutes,
    pub handle: ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts service `S` on `listener`: the server answers at once; migrations and then the
/// bootstrap run in the background, and readiness is 503 until both are done.
pub async fn start<S: IdpService>(
    settings: Arc<Settings>,
    cache: SharedCache,
    listener: TcpListener,
    workers: usize,
) -> Result<RunningService, StartError> {
    let ctx = ServiceContext::new(S::KIND, settings.clone(), cache)?;
    start_with_context::<S>(ctx, listener, workers).await
}

/// Like [`start`] with a context built by the caller (tests migrate it first).
pub async fn start_with_context<S: IdpService>(
    ctx: ServiceContext,
    listener: TcpListener,
    workers: usize,
) -> Result<RunningService, StartError> {
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let state = S::build(ctx.clone()).await?;
    let startup = {
        let (state, db, probes) = (state.clone(), ctx.db.clone(), ctx.probes());
        async move {
            db.migrate_with_retry(S::MIGRATIONS, S::KIND).await;
            // Bootstraps that need a peer (svc-users needs svc-tenants and svc-login) fail
            // until it is up, which takes tens of milliseconds when all start together: retry
            // every 10 ms for the first second (a failed try is a refused connection or a
            // 503), so readiness follows the peers closely, then back off, and only complain
            // once it takes longer than a start should.
            let began = std::time::Instant::now();
            let mut backoff = std::time::Duration::from_millis(200);
            loop {
                match state.bootstrap().await {
                    Ok(()) => break,
                    Err(e) if began.elapsed() < std::time::Duration::from_secs(1) => {
                        tracing::debug!(service = %S::KIND, error = %e, "bootstrap not done yet; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                    Err(e) => {
                        tracing::warn!(service = %S::KIND, error = %e, "bootstrap failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
                    }
                }
            }
            probes.mark_started();
        }
    };
    tokio::spawn(startup);
    let routes: AppRoutes = Arc::new(move |cfg| S::configure(cfg, state.clone()));
    let server = serve(
        listener,
        workers,
        ctx.settings.http.shutdown_timeout_secs,
        std::time::Duration::from_secs(5),
        {
            let routes = routes.clone();
            move |cfg| routes(cfg)
        },
    )
    .map_err(|source| StartError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let handle = server.handle();
    Ok(RunningService {
        kind: S::KIND,
        url: format!("http://{addr}"),
        ctx,
        routes,
        handle,
        task: tokio::spawn(server),
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The whole `main` of a standalone service binary.
pub fn main<S: IdpService>() -> ExitCode {
    let settings = match Settings::load() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("{}: {e}", S::KIND);
            return ExitCode::from(2);
        }
    };
    actix_web::rt::System::new().block_on(async move {
        let _telemetry = telemetry::init(S::KIND.binary(), &settings.telemetry);
        match run::<S>(settings).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "{} failed to start", S::KIND);
                ExitCode::FAILURE
            }
        }
    })
}

async fn run<S: IdpService>(settings: Arc<Settings>) -> Result<(), StartError> {
    let cache = cache::connect(&settings.cache).await?;
    let addr = settings.bind_address(S::KIND);
    let listener = bind(&addr)?;
    let workers = settings
        .http
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let running = start::<S>(settings, cache, listener, workers).await?;
    tracing::info!(service = %S::KIND, address = %running.url, "listening");
    shutdown_signal().await;
    tracing::info!(service = %S::KIND, "shutting down");
    stop_gracefully(&running).await;
    Ok(())
}

/// Readiness goes 503 first, then in-flight requests finish within the shutdown timeout.
pub async fn stop_gracefully(running: &RunningService) {
    running.ctx.probes().start_draining();
    running.handle.stop(true).await;
}
