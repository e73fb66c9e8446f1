//! OIDC metadata through the gateway on every backend: discovery, JWKS and realm info of the
//! bootstrapped `master` tenant, keys sealed at rest, unknown realms refused, and the internal
//! route behind its credential.

use crate::common::{get_json, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::Value;

#[actix_web::test]
async fn discovery_jwks_and_realm_info_of_master() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = &platform.gateway.url;
        let name = backend.name();
        let client = http();

        let doc: Value = client
            .get(format!(
                "{gw}/realms/master/.well-known/openid-configuration"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let issuer = format!("{gw}/realms/master");
        assert_eq!(doc["issuer"], issuer.as_str(), "{name}: {doc}");
        for endpoint in ["token_endpoint", "jwks_uri", "authorization_endpoint"] {
            assert!(
                doc[endpoint]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{issuer}/protocol/openid-connect/")),
                "{name}: {endpoint}"
            );
        }
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        let algs = doc["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap();
        assert!(
            !algs
                .iter()
                .any(|a| a == "none" || a.as_str().unwrap().starts_with("HS"))
        );

        // Ten clients asking at once on a fresh tenant get one and the same key.
        let asks = (0..10).map(|_| {
            let client = client.clone();
            let url = doc["jwks_uri"].as_str().unwrap().to_owned();
            async move {
                client
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        });
        let answers = futures_util::future::join_all(asks).await;
        let kids: Vec<&str> = answers
            .iter()
            .flat_map(|a| a["keys"].as_array().unwrap())
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(
            kids.len(),
            10,
            "{name}: one key in each answer: {answers:?}"
        );
        assert!(kids.iter().all(|k| *k == kids[0]), "{name}: {kids:?}");
        let key = &answers[0]["keys"][0];
        assert_eq!(key["kty"], "RSA", "{name}: master signs RS256 by default");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert!(key["n"].is_string() && key["e"].is_string());
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "{name}: private parts published"
        );

        let info = get_json(&client, &format!("{gw}/realms/master")).await;
        assert_eq!(info["realm"], "master");
        assert_eq!(
            info["token-service"],
            format!("{issuer}/protocol/openid-connect")
        );
        assert!(
            info["public_key"].as_str().unwrap().starts_with("MII"),
            "{name}: {info}"
        );

        // At rest the private half is sealed.
        let auth = service(&platform, ServiceKind::Auth);
        let rows = auth
            .ctx
            .db
            .run(|conn| svc_auth::store::published_keys(conn, "master", i64::MAX / 2))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{name}");
        assert!(rows[0].private_key_sealed.starts_with("v1:"), "{name}");
        assert!(!rows[0].private_key_sealed.contains("PRIVATE"), "{name}");

        for bad in ["nope", "bad%20name", "a.b"] {
            let resp = client
                .get(format!(
                    "{gw}/realms/{bad}/.well-known/openid-configuration"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 404, "{name}: {bad}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "Realm does not exist", "{name}: {bad}");
        }
        platform.stop().await;
    }
}

#[actix_web::test]
async fn the_tenant_directory_is_internal_and_needs_the_service_credential() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let name = backend.name();
        let client = http();
        let tenants = service(&platform, ServiceKind::Tenants);
        let url = format!("{}/internal/tenants/master", tenants.url);

        let via_gateway = client
            .get(format!("{}/internal/tenants/master", platform.gateway.url))
            .send()
            .await
            .unwrap();
        assert_eq!(via_gateway.status(), 404, "{name}: never proxied");

        let anonymous = client.get(&url).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{name}");
        let wrong = client
            .get(&url)
            .header(SERVICE_TOKEN_HEADER, "guess")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{name}");

        let token = tenants.ctx.settings.security.service_token.clone().unwrap();
        let rep: Value = client
            .get(&url)
            .header(SERVICE_TOKEN_HEADER, token.expose())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rep["realm"], "master", "{name}");
        assert_eq!(rep["enabled"], true);
        assert_eq!(
            rep["accessTokenLifespan"], 300,
            "{name}: Keycloak's default"
        );
        assert_eq!(rep["defaultSignatureAlgorithm"], "RS256");
        assert_eq!(rep["realmCreationStatus"], "ACTIVE");

        let missing = client
            .get(format!("{}/internal/tenants/nope", tenants.url))
            .header(SERVICE_TOKEN_HEADER, token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404, "{name}");

        // A second bootstrap (another replica, a restart) changes nothing.
        let before = tenants.ctx.db.run(svc_tenants::store::names).await.unwrap();
        let state = <svc_tenants::State as idp_shared::IdpService>::build(tenants.ctx.clone())
            .await
            .unwrap();
        idp_shared::IdpService::bootstrap(&state).await.unwrap();
        let after = tenants.ctx.db.run(svc_tenants::store::names).await.unwrap();
        assert_eq!(before, vec!["master".to_owned()]);
        assert_eq!(after, before, "{name}");
        platform.stop().await;
    }
}
