//! svc-riskbits over HTTP on every configured backend: conformance, the verification index
//! kept in step with every write, tenant deletion, and no anonymous access.

use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::Value;
use svc_riskbits::State;
use svc_riskbits::riskbit::{Platform, RiskbitInput};
use svc_riskbits::store::{self, RiskbitRow};

#[actix_web::test]
async fn serves_health_metrics_and_migrates_both_ways() {
    idp_shared::testkit::check_service_conformance::<State>().await;
}

fn row(tenant: &str, level: &str, score: &str, android: &str, ios: &str) -> RiskbitRow {
    let riskbit = RiskbitInput {
        rating_level: Some(level.into()),
        score: Some(score.into()),
        risk: Some("4.38%".into()),
        risk_android: Some(android.into()),
        risk_ios: Some(ios.into()),
        operation: Some("OK".into()),
        ..RiskbitInput::default()
    }
    .validate(tenant)
    .unwrap();
    RiskbitRow::new(test_id(tenant, level), tenant, &riskbit, 1)
}

fn levels(rows: Vec<RiskbitRow>) -> Value {
    rows.into_iter().map(|r| r.rating_level).collect()
}

/// Readable ids: the store takes any text id (the routes make uuids).
fn test_id(tenant: &str, level: &str) -> String {
    format!("{tenant}-{level}")
}

#[actix_web::test]
async fn the_verification_index_follows_every_write() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let svc = env.spawn::<State>().await;
        let name = backend.name();
        let db = svc.ctx.db.clone();
        let run = |work: Box<dyn FnOnce(&mut idp_shared::db::DbConnection) -> Value + Send>| {
            let db = db.clone();
            async move { db.run(move |conn| Ok(work(conn))).await.unwrap() }
        };

        let e = row("acme", "E", "949-961", "JBreak[1](300)", "JBreak[400]");
        let h = row("acme", "H", "800-876", "", "JBreak[400],JBreak[5455]");
        let other = row("umbrella", "E", "949-961", "", "JBreak[400]");
        for r in [&e, &h, &other] {
            let r = r.clone();
            db.run(move |conn| store::insert(conn, &r)).await.unwrap();
        }
        let found = run(Box::new(move |c| {
            levels(store::matching(c, "acme", Platform::Ios, Some("JBreak[400]"), None).unwrap())
        }))
        .await;
        assert_eq!(found, serde_json::json!(["E", "H"]), "{name}");
        let count = |tenant: &'static str| {
            run(Box::new(move |c| {
                store::risk_name_count(c, tenant).unwrap().into()
            }))
        };
        assert_eq!(count("acme").await, 4, "{name}");

        // Replacing H rewrites its index rows.
        let mut h2 = row("acme", "H", "800-876", "CodeInjection", "");
        h2.id = h.id.clone();
        let replaced = db.run(move |c| store::replace(c, &h2)).await.unwrap();
        assert!(replaced, "{name}");
        let found = run(Box::new(move |c| {
            let ios = store::matching(c, "acme", Platform::Ios, Some("JBreak[400]"), None);
            let android =
                store::matching(c, "acme", Platform::Android, Some("CodeInjection"), None);
            serde_json::json!([levels(ios.unwrap()), levels(android.unwrap())])
        }))
        .await;
        assert_eq!(found, serde_json::json!([["E"], ["H"]]), "{name}");
        assert_eq!(count("acme").await, 3, "{name}");

        // A rating level taken in the tenant is refused alone; another tenant's is no conflict.
        let batch = vec![
            row("acme", "E", "1-2", "", ""),
            row("acme", "L", "1-491", "CodeInjection", "CodeInjection"),
        ];
        let added = db
            .run(move |c| store::insert_each(c, &batch))
            .await
            .unwrap();
        assert_eq!(added, [false, true], "{name}");
        assert_eq!(count("acme").await, 5, "{name}");

        // An id of another tenant touches nothing of theirs.
        let other_id = other.id.clone();
        let deleted = db
            .run(move |c| store::delete(c, "acme", &other_id))
            .await
            .unwrap();
        assert!(!deleted, "{name}");
        assert_eq!(count("umbrella").await, 1, "{name}");

        // Tenant deletion over HTTP: only with the service token; acme's riskbits and index
        // rows are gone, umbrella's stay.
        let client = http();
        let url = format!("{}/internal/realms/acme", svc.url);
        let resp = client.delete(&url).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{name}");
        assert_eq!(
            count("acme").await,
            5,
            "{name}: nothing deleted without the token"
        );
        let token = svc.ctx.settings.security.service_token.clone().unwrap();
        for _ in 0..2 {
            let resp = client
                .delete(&url)
                .header(SERVICE_TOKEN_HEADER, token.expose())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 204, "{name}: idempotent");
        }
        let bad = client
            .delete(format!("{}/internal/realms/bad%20name", svc.url))
            .header(SERVICE_TOKEN_HEADER, token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400, "{name}");
        let left = run(Box::new(|c| levels(store::list(c, "acme").unwrap()))).await;
        assert_eq!(left, serde_json::json!([]), "{name}");
        assert_eq!(count("acme").await, 0, "{name}");
        assert_eq!(count("umbrella").await, 1, "{name}");

        // The API itself needs a bearer token.
        let resp = client
            .get(format!(
                "{}/realms/acme/kobilriskbits/resources-auth",
                svc.url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{name}");
        assert!(resp.headers().contains_key("www-authenticate"), "{name}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["message"].is_string(), "{name}: {body}");
    }
}
