//! Every signature algorithm a tenant may choose round-trips: svc-auth signs with a key of the
//! tenant's `defaultSignatureAlgorithm`, publishes it, and the gateway's verifier accepts it.

use crate::common::{
    add_service_client, client_credentials_token, get_json, ready_platform, service,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Map, Value, json};

const SECRET: &str = "Pw3Xe6Rt9Yu2Io5Pa8Sd1Fg4Hj7Kl0Zx3Cv6Bn9Mq2";

#[actix_web::test]
async fn rs256_ps256_es256_and_eddsa_tenants_issue_tokens_the_gateway_accepts() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let tenants = service(&platform, ServiceKind::Tenants);

        for (tenant, alg, kty) in [
            ("t-rs", "RS256", "RSA"),
            ("t-ps", "PS256", "RSA"),
            ("t-es", "ES256", "EC"),
            ("t-ed", "EdDSA", "OKP"),
        ] {
            let mut attributes = Map::new();
            attributes.insert("defaultSignatureAlgorithm".into(), json!(alg));
            let row = svc_tenants::new_tenant(tenant, true, attributes, 1);
            tenants
                .ctx
                .db
                .run(move |conn| svc_tenants::store::insert(conn, &row))
                .await
                .unwrap();
            add_service_client(&platform, tenant, "robot", SECRET).await;

            let token = client_credentials_token(&client, &gw, tenant, "robot", SECRET).await;
            let header = token.split('.').next().unwrap();
            let header: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
            assert_eq!(header["alg"], alg, "{name}: {tenant}");

            let jwks = get_json(
                &client,
                &format!("{gw}/realms/{tenant}/protocol/openid-connect/certs"),
            )
            .await;
            let key = &jwks["keys"][0];
            assert_eq!(key["kty"], kty, "{name}: {tenant}");
            assert_eq!(key["kid"], header["kid"], "{name}: {tenant}");

            let resp = client
                .get(format!("{gw}/admin/realms/{tenant}/users"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            // svc-users' own 403 (a service account is no admin), past the gateway's check.
            assert_eq!(
                resp.status(),
                403,
                "{name}: {alg} token refused by the gateway"
            );
        }
        platform.stop().await;
    }
}
