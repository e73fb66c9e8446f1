//! `cargo run --release`: the whole identity provider in one process, embedded storage.

use std::process::ExitCode;

use idp_shared::{Settings, service, telemetry};

fn main() -> ExitCode {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("idp: {e}");
            return ExitCode::from(2);
        }
    };
    actix_web::rt::System::new().block_on(async move {
        let _telemetry = telemetry::init("idp", &settings.telemetry);
        let public_url = settings.public_url();
        let platform = match idp::start(settings).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "idp failed to start");
                return ExitCode::FAILURE;
            }
        };
        for svc in &platform.services {
            tracing::info!(service = %svc.kind, address = %svc.url, "service listening");
        }
        tracing::info!(address = %platform.gateway.url, public_url = %public_url, "gateway listening");
        println!("idp is listening on {} (public URL {public_url})", platform.gateway.url);
        service::shutdown_signal().await;
        tracing::info!("shutting down");
        platform.stop().await;
        ExitCode::SUCCESS
    })
}
