//! A tenant's SMTP configuration through the gateway, on every backend: KOBIL's envelope
//! (subSystem 8), the password sealed at rest and never shown, bad input refused with a reason
//! and nothing changed, administrators only, and the configuration and queued mail removed
//! with the tenant.

use crate::common::{
    add_service_client, client_credentials_token, master_admin_token, ready_platform, service,
};
use idp_shared::ServiceKind;
use idp_shared::security::SecretBox;
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Smtp-s3cret-Passw0rd";
const SECRET: &str = "robot-secret-0123456789";

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, String) {
    let mut req = client.request(method, url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let reply = req.send().await.unwrap();
    let status = reply.status().as_u16();
    let text = reply.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

/// The seed's sample, pointed at a host of ours.
fn sample() -> Value {
    json!({
        "envelopeFrom": null,
        "from": "noreply@acme.example",
        "fromDisplayName": "Identity Dashboard",
        "host": "smtp.acme.example",
        "password": PASSWORD,
        "port": "587",
        "replyTo": "support@acme.example",
        "replyToDisplayName": "Support",
        "ssl": "false",
        "starttls": "true",
        "user": "admin.test"
    })
}

#[actix_web::test]
async fn smtp_setup_is_sealed_checked_and_for_admins_only() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let (status, _, _) = call(
            &client,
            Method::POST,
            &format!("{gw}/admin/realms"),
            Some(&admin),
            Some(json!({"realm": "acme", "enabled": true})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let setup = format!("{gw}/realms/acme/mail/setup");

        // Nothing configured yet: the platform's server would be used.
        let (status, body, _) = call(&client, Method::GET, &setup, Some(&admin), None).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["subSystem"], 8, "{name}: {body}");
        assert_eq!(body["data"], json!({}), "{name}: {body}");

        let (status, body, _) =
            call(&client, Method::POST, &setup, Some(&admin), Some(sample())).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(
            body,
            json!({"message": "Successfully updated SMTP Details.", "status": "OK", "subSystem": 8}),
            "{name}"
        );

        let (status, shown, text) = call(&client, Method::GET, &setup, Some(&admin), None).await;
        assert_eq!(status, 200, "{name}: {shown}");
        let data = &shown["data"];
        assert_eq!(data["host"], "smtp.acme.example", "{name}: {shown}");
        assert_eq!(data["port"], "587", "{name}: {shown}");
        assert_eq!(data["from"], "noreply@acme.example", "{name}: {shown}");
        assert_eq!(data["fromDisplayName"], "Identity Dashboard", "{name}");
        assert_eq!(data["replyTo"], "support@acme.example", "{name}");
        assert_eq!(data["starttls"], "true", "{name}");
        assert_eq!(data["ssl"], "false", "{name}");
        assert_eq!(data["auth"], "true", "{name}: a user means auth");
        assert_eq!(data["user"], "admin.test", "{name}");
        assert_eq!(data["passwordSet"], true, "{name}");
        assert!(data.get("password").is_none(), "{name}: {shown}");
        assert!(!text.contains(PASSWORD), "{name}: the password was shown");

        // At rest the password is sealed under the tenant's context, not stored in clear.
        let tenants = service(&platform, ServiceKind::Tenants);
        let db = tenants.ctx.db.clone();
        let tenant_id = db
            .run(|conn| svc_tenants::store::find_by_name(conn, "acme"))
            .await
            .unwrap()
            .unwrap()
            .row
            .id;
        let id = tenant_id.clone();
        let row = db
            .run(move |conn| svc_tenants::store::mail::find_config(conn, &id))
            .await
            .unwrap()
            .expect("stored");
        let sealed = row.password_sealed.clone().expect("a sealed password");
        assert!(!sealed.contains(PASSWORD), "{name}: stored in clear");
        assert!(!format!("{row:?}").contains(PASSWORD), "{name}");
        let secrets = SecretBox::from_settings(&tenants.ctx.settings).unwrap();
        assert_eq!(
            secrets.open(&sealed, "smtp-password:acme").unwrap(),
            PASSWORD.as_bytes(),
            "{name}"
        );
        assert!(
            secrets.open(&sealed, "smtp-password:other").is_err(),
            "{name}"
        );

        // Sent back without the password (as a GET shows it), the stored one stays.
        let mut again = sample();
        again.as_object_mut().unwrap().remove("password");
        again["port"] = json!(2525);
        again["ssl"] = json!(false);
        let (status, body, _) =
            call(&client, Method::POST, &setup, Some(&admin), Some(again)).await;
        assert_eq!(status, 200, "{name}: {body}");
        let id = tenant_id.clone();
        let kept = db
            .run(move |conn| svc_tenants::store::mail::find_config(conn, &id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.port, 2525, "{name}");
        assert_eq!(
            kept.password_sealed, row.password_sealed,
            "{name}: password kept"
        );

        // Bad input: 400 with a reason, in the envelope, and nothing changes.
        let (_, before, _) = call(&client, Method::GET, &setup, Some(&admin), None).await;
        let cases: Vec<(Value, &str)> = vec![
            (json!({"host": null}), "host is required"),
            (json!({"host": "smtp example"}), "host"),
            (json!({"port": "0"}), "port"),
            (json!({"port": 65536}), "port"),
            (json!({"port": "smtp"}), "port"),
            (json!({"from": "not-an-address"}), "from"),
            (json!({"from": null}), "from is required"),
            (json!({"replyTo": "@acme"}), "replyTo"),
            (json!({"envelopeFrom": "x"}), "envelopeFrom"),
            (json!({"ssl": "maybe"}), "ssl"),
            (json!({"auth": true, "user": null}), "user is required"),
            (json!({"password": 42}), "password"),
            (json!({"colour": "blue"}), "unknown field"),
        ];
        for (patch, needle) in cases {
            let mut bad = sample();
            for (k, v) in patch.as_object().unwrap() {
                bad[k] = v.clone();
            }
            let (status, body, text) =
                call(&client, Method::POST, &setup, Some(&admin), Some(bad)).await;
            assert_eq!(status, 400, "{name}: {patch}: {body}");
            assert_eq!(body["subSystem"], 8, "{name}: {body}");
            assert_ne!(body["status"], "OK", "{name}: {body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(needle),
                "{name}: {patch}: {body}"
            );
            assert!(
                !text.contains(PASSWORD),
                "{name}: {patch}: echoed the password"
            );
        }
        let (status, body, _) = call(
            &client,
            Method::POST,
            &setup,
            Some(&admin),
            Some(json!([1])),
        )
        .await;
        assert_eq!(status, 400, "{name}: {body}");
        let broken = client
            .post(&setup)
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{\"host\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(broken.status(), 400, "{name}: malformed JSON");
        let broken: Value = broken.json().await.unwrap();
        assert_eq!(broken["subSystem"], 8, "{name}: {broken}");
        let (_, after, _) = call(&client, Method::GET, &setup, Some(&admin), None).await;
        assert_eq!(
            after, before,
            "{name}: a refused write changed the configuration"
        );

        // Only administrators: no token 401, a tenant's service account 403, an unknown
        // tenant 404.
        let (status, _, _) = call(&client, Method::GET, &setup, None, None).await;
        assert_eq!(status, 401, "{name}");
        add_service_client(&platform, "acme", "robot", SECRET).await;
        let robot = client_credentials_token(&client, &gw, "acme", "robot", SECRET).await;
        for (method, path, body) in [
            (Method::GET, "setup", None),
            (Method::POST, "setup", Some(sample())),
            (
                Method::POST,
                "test",
                Some(json!({"mailType": "TEST", "to": "x@acme.example"})),
            ),
        ] {
            let url = format!("{gw}/realms/acme/mail/{path}");
            let (status, body, _) = call(&client, method.clone(), &url, Some(&robot), body).await;
            assert_eq!(status, 403, "{name}: {method} {path}: {body}");
            assert_eq!(body["subSystem"], 8, "{name}: {body}");
        }
        let (_, after, _) = call(&client, Method::GET, &setup, Some(&admin), None).await;
        assert_eq!(
            after, before,
            "{name}: a refused caller changed the configuration"
        );
        let (status, body, _) = call(
            &client,
            Method::GET,
            &format!("{gw}/realms/nowhere/mail/setup"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}: {body}");
        assert_eq!(body["subSystem"], 8, "{name}: {body}");

        // The test mail's own checks.
        let test = format!("{gw}/realms/acme/mail/test");
        for (bad, needle) in [
            (
                json!({"mailType": "FORGOT_PASSWORD", "to": "a@acme.example"}),
                "mailType",
            ),
            (json!({"mailType": "TEST", "to": "nobody"}), "to"),
            (
                json!({"mailType": "WELCOME", "to": "a@acme.example", "portalUrl": "javascript:x"}),
                "portalUrl",
            ),
        ] {
            let (status, body, _) = call(
                &client,
                Method::POST,
                &test,
                Some(&admin),
                Some(bad.clone()),
            )
            .await;
            assert_eq!(status, 400, "{name}: {bad}: {body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(needle),
                "{name}: {bad}: {body}"
            );
        }

        // Deleting the tenant removes its configuration and its mail.
        let (status, body, _) = call(
            &client,
            Method::POST,
            &test,
            Some(&admin),
            Some(json!({"mailType": "TEST", "to": "someone@acme.example"})),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let id = tenant_id.clone();
        let queued = db
            .run(move |conn| svc_tenants::store::mail::tenant_mails(conn, &id))
            .await
            .unwrap();
        assert_eq!(queued.len(), 1, "{name}: {queued:?}");
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &format!("{gw}/admin/realms/acme"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let id = tenant_id.clone();
        let (config, mails) = db
            .run(move |conn| {
                Ok((
                    svc_tenants::store::mail::find_config(conn, &id)?,
                    svc_tenants::store::mail::tenant_mails(conn, &id)?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(config, None, "{name}: configuration left behind");
        assert!(mails.is_empty(), "{name}: mail left behind: {mails:?}");
    }
}
