//! svc-apps over HTTP on every configured backend.

#[actix_web::test]
async fn serves_health_metrics_and_migrates_both_ways() {
    idp_shared::testkit::check_service_conformance::<svc_apps::State>().await;
}
