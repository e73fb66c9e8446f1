use std::process::ExitCode;
use std::sync::Arc;

use idp_shared::{ServiceKind, Settings, cache, service, telemetry};

fn main() -> ExitCode {
    let settings = match Settings::load() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(2);
        }
    };
    actix_web::rt::System::new().block_on(async move {
        let _telemetry = telemetry::init("gateway", &settings.telemetry);
        match run(settings).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "gateway failed to start");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run(settings: Arc<Settings>) -> Result<(), service::StartError> {
    let cache = cache::connect(&settings.cache).await?;
    let listener = service::bind(&settings.bind_address(ServiceKind::Gateway))?;
    let running = gateway::start(settings, cache, listener, None)?;
    tracing::info!(address = %running.url, "gateway listening");
    service::shutdown_signal().await;
    running.stop().await;
    Ok(())
}
