//! Rotating a tenant's signing key under load fails no request: the new key is published
//! before it signs, the gateway learns it on first sight, and the old key stays published until
//! the tokens it signed have expired.

use std::time::{Duration, Instant};

use crate::common::{
    add_service_client, client_credentials_token, get_json, ready_platform, service,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_shared::testkit::{TestEnv, backends, http};
use idp_shared::{IdpService, ServiceKind};
use serde_json::Value;

const SECRET: &str = "Rt5Lm8Qw2Zx7Vb4Nc1Kd9Hf3Js6Gp0Ay5Ue8Io2Pq";

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// One round: a token through the gateway, then a protected call with it.
async fn round(client: &reqwest::Client, gw: &str) -> (String, u16) {
    let token = client_credentials_token(client, gw, "master", "robot", SECRET).await;
    let status = client
        .get(format!("{gw}/admin/realms/master/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    (kid_of(&token), status)
}

#[actix_web::test]
async fn a_rotation_under_load_fails_no_request() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        add_service_client(&platform, "master", "robot", SECRET).await;
        let client = http();
        let (old_kid, status) = round(&client, &gw).await;
        // svc-users' own 403 (a service account is no admin): the gateway let it through.
        assert_eq!(status, 403, "{name}: a valid token passes the gateway");

        // Load from two workers until well past the switch.
        let stop_at = Instant::now() + Duration::from_secs(17);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (client, gw) = (client.clone(), gw.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while Instant::now() < stop_at {
                        seen.push(round(&client, &gw).await);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    seen
                })
            })
            .collect();

        tokio::time::sleep(Duration::from_millis(500)).await;
        let auth = service(&platform, ServiceKind::Auth);
        let state = svc_auth::State::build(auth.ctx.clone()).await.unwrap();
        let master = svc_auth::tenants::enabled_tenant(&state, "master")
            .await
            .unwrap();
        let now = idp_shared::names::now_millis();
        // A lead above the verifiers' 10 s refetch cooldown, as PUBLISH_LEAD_MS is.
        let lead = 12_000;
        let new_kid = svc_auth::signing::rotate(&state, &master, now, lead)
            .await
            .unwrap();

        // Both keys are published at once; the old one still signs.
        let jwks = get_json(
            &client,
            &format!("{gw}/realms/master/protocol/openid-connect/certs"),
        )
        .await;
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert!(
            kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
            "{name}: {kids:?}"
        );

        let mut rounds = Vec::new();
        for w in workers {
            rounds.extend(w.await.unwrap());
        }
        let failed: Vec<_> = rounds.iter().filter(|(_, s)| *s != 403).collect();
        assert!(
            failed.is_empty(),
            "{name}: {} of {} requests failed: {failed:?}",
            failed.len(),
            rounds.len()
        );
        assert!(
            rounds.iter().any(|(k, _)| *k == old_kid),
            "{name}: the old key signed before the switch"
        );
        assert!(
            rounds.iter().any(|(k, _)| *k == new_kid),
            "{name}: the new key signed after the switch"
        );
        let last = &rounds.last().unwrap().0;
        assert_eq!(last, &new_kid, "{name}: the new key signs at the end");

        // The old key leaves the JWKS only after its last token has expired.
        let keys = auth
            .ctx
            .db
            .run(|conn| svc_auth::store::published_keys(conn, "master", 0))
            .await
            .unwrap();
        let old = keys.iter().find(|k| k.kid == old_kid).unwrap();
        let new = keys.iter().find(|k| k.kid == new_kid).unwrap();
        assert_eq!(new.active_from, now + lead);
        assert_eq!(
            old.retired_at,
            Some(new.active_from + 300_000 + 60_000),
            "{name}"
        );
        assert_eq!(new.retired_at, None);
        platform.stop().await;
    }
}
