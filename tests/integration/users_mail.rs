//! `POST /realms/{t}/mail/send/{userName}` on every backend: WELCOME is queued with the
//! caller's links, FORGOT_PASSWORD and VERIFY_EMAIL with a hosted-page link svc-auth made;
//! bad requests queue nothing.

use crate::common::{master_admin_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Value, json};

/// (template, recipient, link) of every mail queued for `acme`.
async fn queued(platform: &idp::Platform) -> Vec<(String, String, Option<String>)> {
    let tenants = service(platform, ServiceKind::Tenants);
    let rows = tenants
        .ctx
        .db
        .run(|conn| {
            let tenant = svc_tenants::store::find_by_name(conn, "acme")?.expect("acme");
            svc_tenants::store::mail::tenant_mails(conn, &tenant.row.id)
        })
        .await
        .unwrap();
    let secrets = idp_shared::security::SecretBox::from_settings(&tenants.ctx.settings).unwrap();
    rows.iter()
        .map(|r| {
            let link = r.params_sealed.as_deref().and_then(|sealed| {
                let plain = secrets
                    .open(sealed, &svc_tenants::mail::params_context(&r.id))
                    .ok()?;
                let params: Value = serde_json::from_slice(&plain).ok()?;
                params["link"].as_str().map(str::to_owned)
            });
            (r.template.clone(), r.recipient.clone(), link)
        })
        .collect()
}

#[actix_web::test]
async fn templated_mails_are_queued_for_users() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        for (url, body) in [
            (
                format!("{gw}/admin/realms"),
                json!({"realm": "acme", "enabled": true}),
            ),
            (
                format!("{gw}/admin/realms/acme/users"),
                json!({"username": "dora", "email": "dora@acme.example", "enabled": true,
                       "firstName": "Dora"}),
            ),
            (
                format!("{gw}/admin/realms/acme/users"),
                json!({"username": "noemail", "enabled": true}),
            ),
        ] {
            let reply = client
                .post(url)
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 201, "{name}");
        }
        let send = |user: &str, body: Value| {
            let (client, admin) = (client.clone(), admin.clone());
            let url = format!("{gw}/realms/acme/mail/send/{user}");
            async move {
                let r = client
                    .post(url)
                    .bearer_auth(admin)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };

        for (user, body, status, why) in [
            ("dora", json!({"mailType": "SPAM"}), 400, "unknown type"),
            ("dora", json!({}), 400, "no type"),
            ("noemail", json!({"mailType": "WELCOME"}), 400, "no address"),
            ("ghost", json!({"mailType": "WELCOME"}), 404, "unknown user"),
        ] {
            let (got, reply) = send(user, body).await;
            assert_eq!(got, status, "{name}: {why}: {reply}");
            assert_eq!(reply["subSystem"], 5, "{name}: {why}");
        }
        assert!(queued(&platform).await.is_empty(), "{name}: nothing queued");

        let (status, reply) = send(
            "dora",
            json!({"mailType": "WELCOME", "portalUrl": "https://portal.acme.example"}),
        )
        .await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (200, Some("OK")),
            "{name}"
        );
        let (status, _) = send("dora", json!({"mailType": "FORGOT_PASSWORD"})).await;
        assert_eq!(status, 200, "{name}");
        let mails = queued(&platform).await;
        assert!(
            mails
                .iter()
                .any(|(t, to, _)| t == "WELCOME" && to == "dora@acme.example"),
            "{name}: {mails:?}"
        );
        let reset = mails
            .iter()
            .find(|(t, _, _)| t == "FORGOT_PASSWORD")
            .and_then(|(_, _, link)| link.clone())
            .expect("a reset mail with its link");
        assert!(
            reset.contains("/realms/acme/protocol/openid-connect/login-actions/action-token?key="),
            "{name}: {reset}"
        );
        // The link opens svc-auth's reset page.
        let page = client.get(&reset).send().await.unwrap();
        assert_eq!(page.status(), 200, "{name}");

        platform.stop().await;
    }
}
