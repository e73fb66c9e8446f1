//! The all-in-one platform, started as `cargo run` starts it, on every configured backend:
//! readiness through the gateway and requests routed to the owning service.

use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::Value;

#[actix_web::test]
async fn the_whole_platform_is_ready_behind_the_gateway() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let mut settings = env.settings();
        settings.http.bind = Some("127.0.0.1:0".into());
        let platform = idp::start(settings).await.unwrap();
        let gw = platform.gateway.url.clone();
        let client = http();
        let name = backend.name();

        // Migrations run in the background: ready within a few seconds.
        let mut ready = None;
        for _ in 0..100 {
            let resp = client
                .get(format!("{gw}/health/ready"))
                .send()
                .await
                .unwrap();
            if resp.status() == 200 {
                ready = Some(resp.json::<Value>().await.unwrap());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let ready = ready.unwrap_or_else(|| panic!("{name}: gateway never became ready"));
        let checks = ready["checks"].as_array().unwrap();
        assert_eq!(
            checks
                .iter()
                .filter(|c| c["name"].as_str().unwrap().starts_with("upstream "))
                .count(),
            6,
            "{name}: {ready}"
        );

        // A public path of svc-auth reaches svc-auth (its own metrics count the request).
        let resp = client
            .get(format!(
                "{gw}/realms/master/protocol/openid-connect/no-such-endpoint"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{name}: svc-auth answered");
        let metrics_of = |kind: idp_shared::ServiceKind| {
            let url = platform
                .services
                .iter()
                .find(|s| s.kind == kind)
                .unwrap()
                .url
                .clone();
            let client = client.clone();
            async move {
                client
                    .get(format!("{url}/metrics"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let auth_metrics = metrics_of(idp_shared::ServiceKind::Auth).await;
        assert!(
            auth_metrics.contains(
                "idp_http_requests_total{method=\"GET\",route=\"unmatched\",service=\"auth\",status=\"404\"} 1"
            ),
            "{name}: svc-auth did not see the proxied request:\n{auth_metrics}"
        );

        // A protected path without a token never reaches its service.
        let resp = client
            .get(format!("{gw}/admin/realms/acme/users/count"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{name}");
        let users_metrics = metrics_of(idp_shared::ServiceKind::Users).await;
        assert!(
            !users_metrics.contains("route=\"unmatched\""),
            "{name}: svc-users saw an unauthenticated request:\n{users_metrics}"
        );

        // Internal routes are not reachable through the gateway.
        let resp = client
            .get(format!("{gw}/internal/anything"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);

        platform.stop().await;
    }
}
