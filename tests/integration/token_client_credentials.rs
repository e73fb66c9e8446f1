//! The client_credentials grant through the gateway on every backend: a confidential client
//! gets a signed access token that verifies with the published JWKS and carries Keycloak's
//! claims; every way of asking wrongly gets its RFC 6749 error.

use crate::common::{add_service_client, get_json, ready_platform};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idp_shared::testkit::{TestEnv, backends, http};
use josekit::jwk::Jwk;
use josekit::jws::RS256;
use serde_json::Value;

const SECRET: &str = "k7Qp2vX9mT4wZ8rY1sN6bH3jL5dF0gC2aE9uI7oP4";

async fn platform_with_client(env: &TestEnv) -> idp::Platform {
    let platform = ready_platform(env).await;
    add_service_client(&platform, "master", "reporting", SECRET).await;
    platform
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[actix_web::test]
async fn a_confidential_client_gets_a_verifiable_keycloak_shaped_token() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = platform_with_client(&env).await;
        let gw = &platform.gateway.url;
        let name = backend.name();
        let client = http();
        let token_url = format!("{gw}/realms/master/protocol/openid-connect/token");

        let resp = client
            .post(&token_url)
            .header("authorization", basic("reporting", SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let reply: Value = resp.json().await.unwrap();
        assert_eq!(reply["token_type"], "Bearer");
        assert_eq!(
            reply["expires_in"], 300,
            "{name}: the tenant's accessTokenLifespan"
        );
        assert_eq!(reply["scope"], "profile email");
        assert!(
            reply.get("refresh_token").is_none(),
            "{name}: no refresh token for this grant"
        );
        let jwt = reply["access_token"].as_str().unwrap();

        // Verify with the published key the header names.
        let certs = get_json(
            &client,
            &format!("{gw}/realms/master/protocol/openid-connect/certs"),
        )
        .await;
        let header = josekit::jwt::decode_header(jwt).unwrap();
        let kid = header
            .claim("kid")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        assert_eq!(header.claim("alg").and_then(Value::as_str), Some("RS256"));
        let jwk = certs["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap_or_else(|| panic!("{name}: kid {kid} not in JWKS"));
        let jwk = Jwk::from_map(jwk.as_object().unwrap().clone()).unwrap();
        let verifier = RS256.verifier_from_jwk(&jwk).unwrap();
        let (payload, _) = josekit::jwt::decode_with_verifier(jwt, &verifier).unwrap();
        let claims = payload.claims_set();
        assert_eq!(claims["iss"], format!("{gw}/realms/master"), "{name}");
        assert_eq!(claims["azp"], "reporting");
        assert_eq!(claims["typ"], "Bearer");
        assert_eq!(claims["preferred_username"], "service-account-reporting");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            300
        );
        assert!(
            claims["realm_access"]["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "default-roles-master")
        );
        assert_eq!(claims["clientAddress"], "127.0.0.1");

        // A tampered token does not verify.
        let mut tampered = jwt.to_owned();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(josekit::jwt::decode_with_verifier(&tampered, &verifier).is_err());

        // client_secret_post works too, and asks for an extra scope.
        let reply: Value = client
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "reporting"),
                ("client_secret", SECRET),
                ("scope", "roles"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["scope"], "profile email roles", "{name}: {reply}");
        platform.stop().await;
    }
}

#[actix_web::test]
async fn wrong_requests_get_their_rfc_6749_errors() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = platform_with_client(&env).await;
        let gw = &platform.gateway.url;
        let name = backend.name();
        let client = http();
        let token_url = format!("{gw}/realms/master/protocol/openid-connect/token");
        let cc = ("grant_type", "client_credentials");

        let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
            (
                "wrong secret",
                client
                    .post(&token_url)
                    .header("authorization", basic("reporting", "nope"))
                    .form(&[cc]),
                401,
                "invalid_client",
            ),
            (
                "unknown client",
                client
                    .post(&token_url)
                    .header("authorization", basic("ghost", SECRET))
                    .form(&[cc]),
                401,
                "invalid_client",
            ),
            (
                "no client",
                client.post(&token_url).form(&[cc]),
                401,
                "invalid_client",
            ),
            (
                "both methods",
                client
                    .post(&token_url)
                    .header("authorization", basic("reporting", SECRET))
                    .form(&[cc, ("client_secret", SECRET)]),
                400,
                "invalid_request",
            ),
            (
                "no grant",
                client
                    .post(&token_url)
                    .header("authorization", basic("reporting", SECRET))
                    .form(&[("scope", "email")]),
                400,
                "invalid_request",
            ),
            (
                "unknown grant",
                client
                    .post(&token_url)
                    .header("authorization", basic("reporting", SECRET))
                    .form(&[("grant_type", "urn:x")]),
                400,
                "unsupported_grant_type",
            ),
            (
                "public client",
                client
                    .post(&token_url)
                    .form(&[cc, ("client_id", "admin-cli")]),
                400,
                "unauthorized_client",
            ),
            (
                "unknown scope",
                client
                    .post(&token_url)
                    .header("authorization", basic("reporting", SECRET))
                    .form(&[cc, ("scope", "everything")]),
                400,
                "invalid_scope",
            ),
            (
                "not a form",
                client
                    .post(&token_url)
                    .header("authorization", basic("reporting", SECRET))
                    .json(&serde_json::json!({"grant_type": "client_credentials"})),
                400,
                "invalid_request",
            ),
        ];
        for (what, request, status, error) in cases {
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), status, "{name}: {what}");
            if status == 401 {
                assert!(
                    resp.headers().contains_key("www-authenticate"),
                    "{name}: {what}"
                );
            }
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], error, "{name}: {what}: {body}");
            assert!(!body.to_string().contains(SECRET), "{name}: {what}");
        }

        let unknown_realm = client
            .post(format!("{gw}/realms/nope/protocol/openid-connect/token"))
            .form(&[cc])
            .send()
            .await
            .unwrap();
        assert_eq!(unknown_realm.status(), 404, "{name}");
        platform.stop().await;
    }
}
