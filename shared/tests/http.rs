//! Bad input at the HTTP edge of every service: malformed or oversized JSON, a wrong content
//! type, a bad query and an unknown route each get a clear 4xx in the route's reply shape.

use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, test, web};
use idp_shared::error::{Shape, extractor_configs, not_found};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Page {
    #[allow(dead_code)]
    first: u32,
}

async fn create(_body: web::Json<Value>) -> HttpResponse {
    HttpResponse::Created().finish()
}

async fn list(_q: web::Query<Page>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

macro_rules! app {
    ($shape:expr) => {
        test::init_service(
            App::new()
                .wrap(from_fn(idp_shared::telemetry::observe))
                .configure(|cfg| extractor_configs($shape, 1024).register(cfg))
                .route("/things", web::post().to(create))
                .route("/things", web::get().to(list))
                .default_service(web::to(not_found)),
        )
        .await
    };
}

#[actix_web::test]
async fn malformed_json_is_400_with_the_parser_message() {
    let app = app!(Shape::Keycloak);
    let req = test::TestRequest::post()
        .uri("/things")
        .insert_header(("content-type", "application/json"))
        .set_payload("{\"name\": ")
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), 400);
    let body: Value = test::read_body_json(resp).await;
    let msg = body["errorMessage"].as_str().unwrap();
    assert!(msg.starts_with("invalid JSON body"), "{msg}");
}

#[actix_web::test]
async fn oversized_json_is_413_and_wrong_type_415() {
    let app = app!(Shape::Kobil(5));
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(4096));
    let req = test::TestRequest::post()
        .uri("/things")
        .insert_header(("content-type", "application/json"))
        .set_payload(big)
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), 413);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["subSystem"], 5);

    let req = test::TestRequest::post()
        .uri("/things")
        .insert_header(("content-type", "text/plain"))
        .set_payload("{}")
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 415);
}

#[actix_web::test]
async fn a_bad_query_is_400_in_the_oauth_shape() {
    let app = app!(Shape::OAuth);
    let req = test::TestRequest::get()
        .uri("/things?first=minus-one")
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), 400);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("query")
    );
}

#[actix_web::test]
async fn unknown_routes_are_404_json() {
    let app = app!(Shape::Folio);
    let req = test::TestRequest::delete()
        .uri("/nothing/here")
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), 404);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["message"], "no route for DELETE /nothing/here");
}
