//! The gateway binary as real processes: SIGTERM during load finishes every accepted request,
//! and three gateway processes sharing one Redis enforce one rate limit together.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use idp_shared::service::bind;

/// An upstream whose `/realms/t/protocol/slow` answers after two seconds.
fn upstream() -> String {
    let listener = bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/realms/t/protocol/slow",
                web::get().to(|| async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    HttpResponse::Ok().body("slow")
                }),
            )
            .default_service(web::to(|| async { HttpResponse::Ok().body("fast") }))
    })
    .workers(2)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://{addr}")
}

struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway process proxying every service to `upstream`, ready.
async fn gateway(upstream: &str, env: &[(&str, String)]) -> Gateway {
    let port = bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("idp-gateway-process-{port}"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    command
        .env("IDP_DATA_DIR", &dir)
        .env("IDP_HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("IDP_HTTP__WORKERS", "2")
        .env("IDP_GATEWAY__READINESS_CHECKS_UPSTREAMS", "false")
        .env("IDP_TELEMETRY__LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for kind in ["AUTH", "TENANTS", "APPS", "USERS", "LOGIN", "RISKBITS"] {
        command.env(format!("IDP_SERVICES__{kind}"), upstream);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let gw = Gateway {
        child: command.spawn().expect("the gateway binary"),
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    let client = idp_shared::testkit::http();
    loop {
        if let Ok(r) = client.get(format!("{}/health/ready", gw.url)).send().await
            && r.status().is_success()
        {
            return gw;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "gateway not ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn sigterm_during_load_finishes_every_accepted_request() {
    let up = upstream();
    let mut gw = gateway(&up, &[]).await;
    let client = idp_shared::testkit::http();
    let in_flight: Vec<_> = (0..12)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{}/realms/t/protocol/slow", gw.url));
            actix_web::rt::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for request in in_flight {
        let status = request
            .await
            .unwrap()
            .expect("an accepted request was answered");
        assert_eq!(status, 200);
    }
    let exit = gw.child.wait().unwrap();
    assert!(exit.success(), "the gateway exits cleanly: {exit:?}");
}

#[actix_web::test]
async fn three_gateway_processes_share_one_redis_limit() {
    // Three processes share a limit only through Redis; without one this run has nothing
    // to share (the in-process variant in proxy.rs covers the embedded cache).
    let Ok(redis) = std::env::var("IDP_TEST_REDIS_URL") else {
        eprintln!("IDP_TEST_REDIS_URL unset: three processes have no cache to share");
        return;
    };
    let up = upstream();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let env = [
        ("IDP_CACHE__URL", redis),
        ("IDP_CACHE__PREFIX", prefix),
        (
            "IDP_GATEWAY__RATE_LIMITS__ADMIN__PER_MINUTE",
            "1".to_owned(),
        ),
        ("IDP_GATEWAY__RATE_LIMITS__ADMIN__BURST", "10".to_owned()),
    ];
    let gateways = [
        gateway(&up, &env).await,
        gateway(&up, &env).await,
        gateway(&up, &env).await,
    ];
    let client = idp_shared::testkit::http();
    // A protected admin route: the limit comes before the bearer check, so an allowed request
    // is the gateway's 401 and a refused one its 429.
    let sends = (0..30).map(|i| {
        let url = format!("{}/realms/t/v3_user/count", gateways[i % 3].url);
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_util::future::join_all(sends).await;
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let passed = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!((passed, limited), (10, 20), "{statuses:?}");
}
