//! The all-in-one platform: every service and the gateway in one process. Services listen on
//! ephemeral loopback ports and reach each other (and are reached by the gateway) over HTTP
//! exactly as they do when deployed apart; they share one cache, so counters and one-time codes
//! hold across them.

use std::sync::Arc;

use idp_shared::ServiceKind;
use idp_shared::cache::{self, SharedCache};
use idp_shared::config::{Secret, Settings};
use idp_shared::security;
use idp_shared::service::{self, IdpService, RunningService, StartError};

pub use gateway::RunningGateway;

pub struct Platform {
    pub gateway: RunningGateway,
    pub services: Vec<RunningService>,
}

impl Platform {
    /// The gateway drains first, then the services finish what it had sent them, all at once.
    pub async fn stop(&self) {
        self.gateway.stop().await;
        futures_util::future::join_all(self.services.iter().map(service::stop_gracefully)).await;
    }
}

/// Starts everything and returns once every server listens (readiness follows when each
/// service's migrations are done).
pub async fn start(mut settings: Settings) -> Result<Platform, StartError> {
    let cache = cache::connect(&settings.cache).await?;
    // One process: its services share a credential made for this run unless one is configured.
    if settings.security.service_token.is_none() {
        settings.security.service_token = Some(Secret::new(security::random_token(32)));
    }
    // `cargo run --release` on embedded storage: an administrator a newcomer can log in as,
    // its password printed once by svc-users when it is set.
    let embedded = settings
        .database
        .url
        .as_ref()
        .is_none_or(|u| u.expose().starts_with("sqlite:"));
    if settings.bootstrap_admin_password.is_none() && embedded {
        settings.bootstrap_admin_password = Some(Secret::new(security::random_token(18)));
        settings.bootstrap_admin_password_generated = true;
    }
    // Bind first: every service must know every other one's address before it starts.
    let mut listeners = Vec::new();
    for kind in ServiceKind::SERVICES {
        let listener = service::bind("127.0.0.1:0")?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Other(e.to_string()))?;
        settings.services.set(kind, format!("http://{addr}"));
        listeners.push(listener);
    }
    let gateway_listener = service::bind(&settings.bind_address(ServiceKind::Gateway))?;
    if settings.http.public_url.is_none() {
        // The address actually bound (the configured port may be 0), relative path included.
        let addr = gateway_listener
            .local_addr()
            .map_err(|e| StartError::Other(e.to_string()))?;
        settings.http.public_url = Some(format!("http://{addr}{}", settings.http.relative_path));
    }
    let settings = Arc::new(settings);
    let mut listeners = listeners.into_iter();
    let mut next = || listeners.next().expect("one listener per service");
    let services = vec![
        start_one::<svc_auth::State>(&settings, &cache, next()).await?,
        start_one::<svc_tenants::State>(&settings, &cache, next()).await?,
        start_one::<svc_apps::State>(&settings, &cache, next()).await?,
        start_one::<svc_users::State>(&settings, &cache, next()).await?,
        start_one::<svc_login::State>(&settings, &cache, next()).await?,
        start_one::<svc_riskbits::State>(&settings, &cache, next()).await?,
    ];
    // The gateway calls the services' apps on its own workers: no loopback hop on the public
    // path. Their own servers stay up for the calls services make to each other.
    let in_process = services
        .iter()
        .map(|s| (s.kind, s.routes.clone()))
        .collect();
    let gateway =
        gateway::start_with_services(settings, cache, gateway_listener, None, in_process)?;
    Ok(Platform { gateway, services })
}

async fn start_one<S: IdpService>(
    settings: &Arc<Settings>,
    cache: &SharedCache,
    listener: std::net::TcpListener,
) -> Result<RunningService, StartError> {
    debug_assert_eq!(
        settings.services.get(S::KIND),
        listener
            .local_addr()
            .ok()
            .map(|a| format!("http://{a}"))
            .as_deref()
    );
    // One worker per service: in one process the gateway's workers are the parallelism.
    service::start::<S>(settings.clone(), cache.clone(), listener, 1).await
}
