//! The proxy against a real HTTP upstream started here: it streams both ways, strips
//! hop-by-hop headers, sets forwarding headers, and answers 413, 502 and 504 with JSON. At
//! the edge: security headers, rate limits shared by several gateways (one bucket whatever
//! a client claims in X-Forwarded-For), and a drain that finishes accepted requests.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::StreamExt;
use idp_shared::cache::{self, SharedCache};
use idp_shared::config::{RouteRule, Settings};
use idp_shared::service::bind;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Signals between the test and the upstream's handlers.
#[derive(Default)]
struct Probe {
    first_chunk_received: Notify,
    release_second_chunk: Notify,
}

async fn echo(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or("?"))))
        .collect();
    HttpResponse::Ok()
        .insert_header(("keep-alive", "timeout=5"))
        .insert_header(("proxy-authenticate", "Basic"))
        .insert_header(("x-upstream", "yes"))
        .json(json!({
            "method": req.method().as_str(),
            "path": req.path(),
            "query": req.query_string(),
            "headers": headers,
            "body_len": body.len(),
        }))
}

async fn stream_down(probe: web::Data<Arc<Probe>>) -> HttpResponse {
    let probe = probe.get_ref().clone();
    let chunks = futures_util::stream::unfold(0u8, move |step| {
        let probe = probe.clone();
        async move {
            match step {
                0 => Some((Ok::<_, actix_web::Error>(Bytes::from_static(b"first;")), 1)),
                1 => {
                    probe.release_second_chunk.notified().await;
                    Some((Ok(Bytes::from_static(b"second")), 2))
                }
                _ => None,
            }
        }
    });
    HttpResponse::Ok().streaming(chunks)
}

async fn stream_up(mut payload: web::Payload, probe: web::Data<Arc<Probe>>) -> HttpResponse {
    let mut total = 0usize;
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return HttpResponse::BadRequest().finish();
        };
        if total == 0 {
            probe.first_chunk_received.notify_one();
        }
        total += chunk.len();
    }
    HttpResponse::Ok().body(total.to_string())
}

async fn slow() -> HttpResponse {
    tokio::time::sleep(Duration::from_secs(3)).await;
    HttpResponse::Ok().finish()
}

async fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// The upstream: an ordinary actix server on an ephemeral port.
fn upstream(probe: Arc<Probe>) -> String {
    let listener = bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(probe.clone()))
            .route("/realms/t/stream", web::get().to(stream_down))
            .route("/realms/t/upload", web::post().to(stream_up))
            .route("/realms/t/slow", web::get().to(slow))
            .route("/realms/t/empty", web::delete().to(no_content))
            .default_service(web::to(echo))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://{addr}")
}

/// An address where nothing listens.
fn dead_address() -> String {
    let listener = bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

async fn gateway(
    upstream_url: &str,
    tune: impl FnOnce(&mut Settings),
) -> (gateway::RunningGateway, String) {
    let dir = tempfile_dir();
    let mut settings = Settings::for_test(dir);
    settings.services.auth = upstream_url.to_owned();
    settings.services.riskbits = dead_address();
    settings.gateway.routes = vec![
        RouteRule {
            pattern: "/realms/**".into(),
            service: "auth".into(),
            public: true,
        },
        RouteRule {
            pattern: "/dead/**".into(),
            service: "riskbits".into(),
            public: true,
        },
    ];
    settings.gateway.readiness_checks_upstreams = false;
    settings.gateway.max_body_bytes = 64 * 1024;
    tune(&mut settings);
    let cache: SharedCache = cache::connect(&settings.cache).await.unwrap();
    let gw = gateway::start(
        Arc::new(settings),
        cache,
        bind("127.0.0.1:0").unwrap(),
        Some(1),
    )
    .unwrap();
    let url = gw.url.clone();
    (gw, url)
}

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("idp-gateway-test")
}

fn client() -> reqwest::Client {
    idp_shared::testkit::http()
}

#[actix_web::test]
async fn forwards_method_path_query_and_body_and_sets_forwarding_headers() {
    let up = upstream(Arc::default());
    let (_gw, gw) = gateway(&up, |_| {}).await;
    let resp = client()
        .put(format!("{gw}/realms/t/things/1?a=1&b=two"))
        .header("authorization", "Bearer abc")
        .header("x-end-to-end", "kept")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .header("x-request-id", "req-42")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "req-42");
    assert_eq!(resp.headers()["x-upstream"], "yes");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["path"], "/realms/t/things/1");
    assert_eq!(body["query"], "a=1&b=two");
    assert_eq!(body["body_len"], 5);
    let h = &body["headers"];
    assert_eq!(h["authorization"], "Bearer abc");
    assert_eq!(h["x-end-to-end"], "kept");
    assert_eq!(h["x-request-id"], "req-42");
    // W3C trace context reaches the service (as the caller's parent when no exporter runs).
    assert_eq!(
        h["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    // The peer is no trusted proxy: its own X-Forwarded-For claim is dropped.
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    // The scheme of the gateway's own connection, not the client's claim.
    assert_eq!(h["x-forwarded-proto"], "http");
    assert!(
        h["x-forwarded-host"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
}

#[actix_web::test]
async fn strips_hop_by_hop_headers_both_ways() {
    let up = upstream(Arc::default());
    let (_gw, gw) = gateway(&up, |_| {}).await;
    let resp = client()
        .get(format!("{gw}/realms/t/echo"))
        .header("connection", "keep-alive, x-private-hop")
        .header("x-private-hop", "secret")
        .header("keep-alive", "timeout=99")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("te", "trailers")
        .header("trailer", "x-checksum")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The upstream's own hop-by-hop reply headers do not reach the client.
    assert!(resp.headers().get("proxy-authenticate").is_none());
    assert!(resp.headers().get("keep-alive").is_none());
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a generated UUID request id: {id}");
    let body: Value = resp.json().await.unwrap();
    let h = body["headers"].as_object().unwrap();
    for hop in [
        "x-private-hop",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
    ] {
        assert!(!h.contains_key(hop), "{hop} reached the upstream: {h:?}");
    }
    assert_eq!(h["x-request-id"], id.as_str());
}

#[actix_web::test]
async fn streams_the_reply_before_the_upstream_has_finished() {
    let probe = Arc::new(Probe::default());
    let up = upstream(probe.clone());
    let (_gw, gw) = gateway(&up, |_| {}).await;
    let mut resp = client()
        .get(format!("{gw}/realms/t/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The upstream holds its second chunk until we have seen the first: a buffering proxy
    // would deliver nothing, and this would time out.
    let first = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
        .await
        .expect("first chunk arrives while the upstream is still sending")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first;");
    probe.release_second_chunk.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"second");
}

#[actix_web::test]
async fn streams_the_request_body_before_the_client_has_finished() {
    let probe = Arc::new(Probe::default());
    let up = upstream(probe.clone());
    let (_gw, gw) = gateway(&up, |_| {}).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let request = tokio::spawn(
        client()
            .post(format!("{gw}/realms/t/upload"))
            .body(body)
            .send(),
    );
    tx.send(Ok(Bytes::from(vec![b'a'; 1000]))).await.unwrap();
    // The upstream sees the first chunk while the client still holds the rest.
    tokio::time::timeout(
        Duration::from_secs(5),
        probe.first_chunk_received.notified(),
    )
    .await
    .expect("the first chunk reaches the upstream before the body is complete");
    tx.send(Ok(Bytes::from(vec![b'b'; 1000]))).await.unwrap();
    drop(tx);
    let resp = request.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "2000");
}

#[actix_web::test]
async fn oversized_bodies_get_413_whether_declared_or_streamed() {
    let up = upstream(Arc::default());
    let (_gw, gw) = gateway(&up, |s| s.gateway.max_body_bytes = 1024).await;
    let resp = client()
        .post(format!("{gw}/realms/t/echo"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "PAYLOAD_TOO_LARGE");

    let chunks = futures_util::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 512]))),
    );
    let resp = client()
        .post(format!("{gw}/realms/t/upload"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413, "a chunked body over the limit");

    let ok = client()
        .post(format!("{gw}/realms/t/echo"))
        .body(vec![b'x'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "a body under the limit passes");
}

#[actix_web::test]
async fn an_unreachable_upstream_is_502_and_a_slow_one_504() {
    let up = upstream(Arc::default());
    let (gw_handle, gw) = gateway(&up, |s| s.gateway.upstream_timeout_ms = 300).await;
    let resp = client()
        .get(format!("{gw}/dead/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "BAD_GATEWAY");
    assert!(
        !body["message"].as_str().unwrap().contains("127.0.0.1"),
        "{body}"
    );

    let resp = client()
        .get(format!("{gw}/realms/t/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "UPSTREAM_TIMEOUT");

    // Both failures are counted per service and kind.
    let metrics = client()
        .get(format!("{gw}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("idp_gateway_upstream_errors_total{kind=\"connect\",service=\"riskbits\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("idp_gateway_upstream_errors_total{kind=\"timeout\",service=\"auth\"} 1"),
        "{metrics}"
    );
    gw_handle.stop().await;
}

#[actix_web::test]
async fn unrouted_internal_and_malformed_paths_never_reach_an_upstream() {
    let up = upstream(Arc::default());
    let (_gw, gw) = gateway(&up, |_| {}).await;
    for (path, status) in [
        ("/internal/users/1", 404),
        ("/nowhere", 404),
        ("/realms/t%2Finternal/x", 400),
    ] {
        let resp = client().get(format!("{gw}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), status, "{path}");
        assert!(
            resp.headers().get("x-upstream").is_none(),
            "{path} was proxied"
        );
        let body: Value = resp.json().await.unwrap();
        assert!(body["message"].is_string(), "{path}: {body}");
    }
    let resp = client()
        .delete(format!("{gw}/realms/t/empty"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

#[actix_web::test]
async fn a_relative_path_prefix_is_stripped_before_routing() {
    let up = upstream(Arc::default());
    let (_gw, gw) = gateway(&up, |s| s.http.relative_path = "/auth".into()).await;
    let resp = client()
        .get(format!("{gw}/auth/realms/t/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["path"], "/realms/t/x");
    let resp = client()
        .get(format!("{gw}/realms/t/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "outside the prefix");
}

// ---- the edge: security headers, rate limits, drain ----------------------------------------

/// A rate limit tight enough to hit: `burst` requests, then one a minute.
fn tight_limits(settings: &mut Settings, burst: u32) {
    settings.gateway.rate_limits.enabled = true;
    settings.gateway.rate_limits.admin = idp_shared::config::RateLimit {
        per_minute: 1,
        burst,
    };
}

#[actix_web::test]
async fn every_reply_carries_security_headers_and_hsts_only_over_tls() {
    let up = upstream(Arc::default());
    let (_gw, gw) = gateway(&up, |s| {
        s.gateway.trusted_proxies = vec!["127.0.0.1".into()]
    })
    .await;
    for path in ["/realms/t/x", "/health/live", "/no/route"] {
        let resp = client().get(format!("{gw}{path}")).send().await.unwrap();
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.get("server").is_none(), "{path}: no server banner");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{path}: plain HTTP"
        );
    }
    // Behind a trusted TLS-terminating proxy: HSTS, and the services hear "https".
    let resp = client()
        .get(format!("{gw}/realms/t/x"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["headers"]["x-forwarded-proto"], "https");
    assert_eq!(body["headers"]["x-forwarded-for"], "198.51.100.7");
    // Proxied requests are counted by route-table pattern, never by raw path.
    let metrics = client()
        .get(format!("{gw}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("route=\"/realms/**\""), "{metrics}");
    assert!(!metrics.contains("/realms/t/x"), "{metrics}");
}

#[actix_web::test]
async fn a_spoofed_forwarded_for_does_not_change_the_rate_limit_key() {
    let up = upstream(Arc::default());
    let (_gw, gw) = gateway(&up, |s| tight_limits(s, 3)).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let resp = client()
            .get(format!("{gw}/realms/t/thing"))
            .header("x-forwarded-for", format!("10.9.9.{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            let wait: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "Retry-After {wait}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "TOO_MANY_REQUESTS");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    // Another tenant has a bucket of its own.
    let other = client()
        .get(format!("{gw}/realms/u/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    // Routes outside the limited groups are not limited (discovery, health).
    let health = client()
        .get(format!("{gw}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[actix_web::test]
async fn a_trusted_proxy_gives_each_client_its_own_bucket() {
    let up = upstream(Arc::default());
    let (_gw, gw) = gateway(&up, |s| {
        tight_limits(s, 1);
        s.gateway.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    for client_ip in ["198.51.100.1", "198.51.100.2"] {
        let first = client()
            .get(format!("{gw}/realms/t/thing"))
            .header("x-forwarded-for", client_ip)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 200, "{client_ip}");
        let second = client()
            .get(format!("{gw}/realms/t/thing"))
            .header("x-forwarded-for", client_ip)
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), 429, "{client_ip}");
    }
}

/// Three gateways (replicas) with their own connections to one cache: Redis when the run has
/// one, else one in-process cache shared by the three.
#[actix_web::test]
async fn three_gateways_enforce_one_limit_together() {
    let up = upstream(Arc::default());
    let shared_memory: SharedCache = cache::connect(&Settings::for_test(tempfile_dir()).cache)
        .await
        .unwrap();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let mut gateways = Vec::new();
    for _ in 0..3 {
        let mut settings = Settings::for_test(tempfile_dir());
        settings.services.auth = up.clone();
        settings.gateway.routes = vec![RouteRule {
            pattern: "/realms/**".into(),
            service: "auth".into(),
            public: true,
        }];
        settings.gateway.readiness_checks_upstreams = false;
        tight_limits(&mut settings, 10);
        let cache = match std::env::var("IDP_TEST_REDIS_URL") {
            Ok(url) => {
                settings.cache.url = idp_shared::config::Secret::new(url);
                settings.cache.prefix = prefix.clone();
                cache::connect(&settings.cache)
                    .await
                    .expect("IDP_TEST_REDIS_URL is set, so Redis must answer")
            }
            Err(_) => shared_memory.clone(),
        };
        let gw = gateway::start(
            Arc::new(settings),
            cache,
            bind("127.0.0.1:0").unwrap(),
            Some(1),
        )
        .unwrap();
        gateways.push(gw);
    }
    let mut sends = Vec::new();
    for i in 0..30 {
        let url = format!("{}/realms/t/thing", gateways[i % 3].url);
        sends.push(async move { client().get(url).send().await.unwrap().status().as_u16() });
    }
    let statuses = futures_util::future::join_all(sends).await;
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((allowed, limited), (10, 20), "{statuses:?}");
    for gw in &gateways {
        gw.stop().await;
    }
}

#[actix_web::test]
async fn stopping_finishes_every_accepted_request() {
    let up = upstream(Arc::default());
    let (gw_handle, gw) = gateway(&up, |s| s.gateway.upstream_timeout_ms = 10_000).await;
    // Requests in flight (the upstream takes 3 s) when the drain begins.
    let in_flight: Vec<_> = (0..8)
        .map(|_| {
            let url = format!("{gw}/realms/t/slow");
            actix_web::rt::spawn(async move { client().get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = client()
        .get(format!("{gw}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let stopping = actix_web::rt::spawn(async move { gw_handle.stop().await });
    for request in in_flight {
        let status = request
            .await
            .unwrap()
            .expect("an accepted request was answered");
        assert_eq!(status, 200);
    }
    stopping.await.unwrap();
    assert!(
        client()
            .get(format!("{gw}/health/live"))
            .send()
            .await
            .is_err(),
        "the gateway no longer accepts"
    );
}
