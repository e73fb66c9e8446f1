//! KOBIL's resend-OTP brute-force routes and the security report's `totp`, on every backend:
//! a code or password guessed wrong locks the account, the status says so, unlocking (one
//! user or all) lifts it; a tenant with brute-force protection off says the feature is off.

use crate::common::{master_admin_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Value, json};

async fn grant(client: &reqwest::Client, gw: &str, tenant: &str, password: &str) -> u16 {
    client
        .post(format!(
            "{gw}/realms/{tenant}/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "carol"),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn otp_brute_force_status_and_unlock() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let mut carol_ids = Vec::new();
        for (realm, protected) in [("acme", true), ("open", false)] {
            let body = json!({"realm": realm, "enabled": true, "bruteForceProtected": protected,
                              "failureFactor": 3, "quickLoginCheckMilliSeconds": 0});
            let made = client
                .post(format!("{gw}/admin/realms"))
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(made.status(), 201, "{name}");
            let user = client
                .post(format!("{gw}/admin/realms/{realm}/users"))
                .bearer_auth(&admin)
                .json(&json!({"username": "carol", "enabled": true,
                              "credentials": [{"type": "password", "value": "Carol-pass-1", "temporary": false}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(user.status(), 201, "{name}");
            carol_ids.push(
                user.headers()["location"]
                    .to_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        let status_url = format!("{gw}/realms/acme/v3_user/carol/otp-brute-force");
        let get = |url: String| {
            let (client, admin) = (client.clone(), admin.clone());
            async move {
                let r = client.get(url).bearer_auth(admin).send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };

        for _ in 0..3 {
            assert_eq!(grant(&client, &gw, "acme", "wrong").await, 400);
        }
        let (status, body) = get(status_url.clone()).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["status"], "OK");
        assert_eq!(body["subSystem"], 5);
        assert_eq!(body["data"]["locked"], true, "{name}: {body}");
        assert_eq!(body["data"]["numFailures"], 3);
        assert_eq!(
            grant(&client, &gw, "acme", "Carol-pass-1").await,
            400,
            "{name}: locked"
        );

        let unlocked = client
            .delete(&status_url)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(unlocked.status(), 200, "{name}");
        let (_, body) = get(status_url.clone()).await;
        assert_eq!(body["data"]["locked"], false, "{name}: {body}");
        assert_eq!(
            grant(&client, &gw, "acme", "Carol-pass-1").await,
            200,
            "{name}: unlocked"
        );

        // Unlock all.
        for _ in 0..3 {
            grant(&client, &gw, "acme", "wrong").await;
        }
        let all = client
            .delete(format!("{gw}/realms/acme/v3_user/otp-brute-force"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(all.status(), 200, "{name}");
        assert_eq!(
            grant(&client, &gw, "acme", "Carol-pass-1").await,
            200,
            "{name}: all unlocked"
        );

        // Unknown user; a tenant with protection off.
        let (status, body) = get(format!("{gw}/realms/acme/v3_user/nobody/otp-brute-force")).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (404, Some("USER_NOT_FOUND")),
            "{name}"
        );
        let (status, body) = get(format!("{gw}/realms/open/v3_user/carol/otp-brute-force")).await;
        assert_eq!(status, 200);
        assert!(
            body["message"].as_str().unwrap().contains("disabled"),
            "{name}: {body}"
        );

        // The security report tells who has a one-time-code credential.
        let login = service(&platform, ServiceKind::Login);
        let token = env.settings().security.service_token.unwrap();
        let otp = http()
            .post(format!(
                "{}/internal/realms/acme/users/{}/otp",
                login.url, carol_ids[0]
            ))
            .header("x-idp-service-token", token.expose())
            .json(&json!({"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}))
            .send()
            .await
            .unwrap();
        assert_eq!(otp.status(), 201, "{name}");
        let report: Value = client
            .get(format!(
                "{gw}/realms/acme/user-security-resources/users?page=0&size=10"
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let carol = report
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "carol")
            .unwrap();
        assert_eq!(carol["totp"], true, "{name}: {report}");

        platform.stop().await;
    }
}
