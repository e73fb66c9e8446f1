//! KOBIL's tenant, settings, role and app routes through the gateway on every backend: the
//! orchestrated tenant creation (realm, default clients, admin user, password, default app)
//! and its resumption after a BLOCKED step, the tenant admin it makes (who administers only
//! its own tenant), tenant info and update, settings and app settings, realm roles, apps and
//! their secrets, and the UMA app.

use crate::common;

use crate::common::{password_token, ready_platform, service};
use idp_shared::ServiceKind;
use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TENANT_ADMIN_PASSWORD: &str = "Tenant-admin-passw0rd-1";

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status();
    let bytes = reply.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn grant_status(
    client: &reqwest::Client,
    gw: &str,
    tenant: &str,
    client_id: &str,
    secret: &str,
) -> StatusCode {
    client
        .post(format!(
            "{gw}/realms/{tenant}/protocol/openid-connect/token"
        ))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
}

async fn password_status(
    client: &reqwest::Client,
    gw: &str,
    tenant: &str,
    username: &str,
    password: &str,
) -> StatusCode {
    client
        .post(format!(
            "{gw}/realms/{tenant}/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

/// The seed's "Create tenant" sample, for `realm`.
fn create_body(realm: &str, password: &str) -> Value {
    json!({
        "realm": realm,
        "enabled": true,
        "loginTheme": "kobilv2",
        "accountTheme": "kobilv2",
        "adminTheme": "kobilv2",
        "emailTheme": "kobilv2",
        "adminUsername": "tadmin",
        "adminEmail": "tadmin@example.com",
        "adminPassword": password,
        "adminFirstName": null,
        "adminLastName": null,
        "bruteForceProtected": true,
        "actionTokenGeneratedByAdminLifespan": 86400,
        "settings": {"UserProperty": "id"},
        "requiredActions": [{
            "alias": "kobil-reg-status-required-action",
            "name": "KOBIL Registration Status Verification",
            "providerId": "kobil-reg-status-required-action",
            "enabled": true,
            "priority": 1001
        }]
    })
}

fn ok_envelope(body: &Value, sub_system: u8) {
    assert_eq!(body["status"], "OK", "{body}");
    assert_eq!(body["subSystem"], sub_system, "{body}");
    assert!(body["message"].is_string(), "{body}");
}

#[actix_web::test]
async fn kobil_tenants_settings_roles_and_apps() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = common::master_admin_token(&client, &gw).await;
        let token = Some(admin.as_str());
        let url = |path: &str| format!("{gw}{path}");
        let tenants_url = url("/realms/master/v4_realm/");

        // Bad requests are refused and create nothing.
        for body in [
            json!({"realm": "kobil1", "adminUsername": "a", "adminEmail": "a@example.com"}),
            json!({"realm": "bad name", "adminUsername": "a", "adminEmail": "a@example.com", "adminPassword": "x"}),
            json!({"realm": "kobil1", "adminUsername": "a", "adminEmail": "not-an-email", "adminPassword": "x"}),
            json!({"realm": "kobil1", "adminUsername": "a", "adminEmail": "a@example.com", "adminPassword": "x", "settings": {"a": {"b": 1}}}),
            json!({"realm": "kobil1", "adminUsername": "a", "adminEmail": "a@example.com", "adminPassword": "x", "accessTokenLifespan": "long"}),
            json!("kobil1"),
        ] {
            let (status, reply) = call(
                &client,
                Method::POST,
                &tenants_url,
                token,
                Some(body.clone()),
            )
            .await;
            assert_eq!(status, 400, "{name}: {body} -> {reply}");
            assert_eq!(reply["status"], "BAD_REQUEST", "{name}: {reply}");
            assert_eq!(reply["subSystem"], 1);
        }
        let (status, list) = call(&client, Method::GET, &tenants_url, token, None).await;
        assert_eq!(status, 200, "{name}: {list}");
        ok_envelope(&list, 1);
        let names: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["master"], "{name}");

        // A step that fails leaves the tenant BLOCKED; the same request resumes it.
        let mut blocked = create_body("kobil1", "Short-1");
        blocked["passwordPolicy"] = json!("length(20)");
        let (status, reply) = call(
            &client,
            Method::POST,
            &tenants_url,
            token,
            Some(blocked.clone()),
        )
        .await;
        assert_eq!(status, 400, "{name}: {reply}");
        assert!(
            reply["message"].as_str().unwrap().contains("BLOCKED"),
            "{name}: {reply}"
        );
        assert!(
            !reply.to_string().contains("Short-1"),
            "{name}: no password in errors"
        );
        let (status, doc) = call(
            &client,
            Method::GET,
            &url("/realms/kobil1/v4_realm/status"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {doc}");
        assert_eq!(doc["data"]["status"], "BLOCKED", "{name}: {doc}");
        assert_eq!(doc["data"]["steps"]["adminUser"], "SUCCESS");
        assert_eq!(doc["data"]["steps"]["adminPassword"], "FAILED");
        assert_eq!(doc["data"]["steps"]["defaultApp"], "PENDING");

        let long_password = format!("{TENANT_ADMIN_PASSWORD}-long-enough");
        blocked["adminPassword"] = json!(long_password);
        let (status, created) =
            call(&client, Method::POST, &tenants_url, token, Some(blocked)).await;
        assert_eq!(status, 200, "{name}: {created}");
        ok_envelope(&created, 1);
        let data = &created["data"];
        assert_eq!(data["tenantName"], "kobil1");
        assert_eq!(data["emailId"], "tadmin@example.com");
        assert!(
            data["tenantUrl"]
                .as_str()
                .unwrap()
                .ends_with("/realms/kobil1"),
            "{name}: {data}"
        );
        assert_eq!(data["appId"], "digitanium-app");
        let app_secret = data["appSecret"].as_str().unwrap().to_owned();
        assert_eq!(
            grant_status(&client, &gw, "kobil1", "digitanium-app", &app_secret).await,
            200,
            "{name}: the default app's secret works"
        );
        let (_, doc) = call(
            &client,
            Method::GET,
            &url("/realms/kobil1/v4_realm/status"),
            token,
            None,
        )
        .await;
        assert_eq!(doc["data"]["status"], "ACTIVE", "{name}: {doc}");
        assert_eq!(doc["data"]["iamStatus"], "SUCCESS");

        // A second tenant, in one go, with the seed's sample.
        let (status, created) = call(
            &client,
            Method::POST,
            &tenants_url,
            token,
            Some(create_body("kobil2", TENANT_ADMIN_PASSWORD)),
        )
        .await;
        assert_eq!(status, 200, "{name}: {created}");
        let (status, reply) = call(
            &client,
            Method::POST,
            &tenants_url,
            token,
            Some(create_body("kobil2", TENANT_ADMIN_PASSWORD)),
        )
        .await;
        assert_eq!(status, 409, "{name}: {reply}");
        assert_eq!(reply["status"], "CONFLICT");

        // The tenant admin administers its own tenant and nothing else.
        let tadmin = password_token(
            &client,
            &gw,
            "kobil2",
            "admin-cli",
            "tadmin",
            TENANT_ADMIN_PASSWORD,
        )
        .await;
        let own = Some(tadmin.as_str());
        let (status, rep) = call(
            &client,
            Method::GET,
            &url("/admin/realms/kobil2"),
            own,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {rep}");
        let (status, _) = call(
            &client,
            Method::POST,
            &url("/admin/realms/kobil2/clients"),
            own,
            Some(json!({"clientId": "own-app"})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let (status, _) = call(
            &client,
            Method::GET,
            &url("/realms/kobil2/v3_realm/settings"),
            own,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        for (method, path) in [
            (Method::GET, "/admin/realms/kobil1"),
            (Method::PUT, "/admin/realms/kobil1"),
            (Method::DELETE, "/admin/realms/kobil1"),
            (Method::GET, "/admin/realms/kobil1/clients"),
            (Method::GET, "/admin/realms/master"),
            (Method::GET, "/admin/realms"),
            (Method::POST, "/admin/realms"),
            (Method::GET, "/realms/kobil1/v3_realm/settings"),
            (Method::POST, "/realms/kobil1/v3_role/x"),
            (Method::GET, "/realms/kobil1/v3_client"),
            (Method::GET, "/realms/master/v4_realm/"),
        ] {
            let (status, _) = call(&client, method.clone(), &url(path), own, Some(json!({}))).await;
            assert!(
                status == 401 || status == 403,
                "{name}: kobil2's admin on {method} {path}: {status}"
            );
            // The services check it themselves too.
            let svc = if path.contains("client") {
                service(&platform, ServiceKind::Apps)
            } else {
                service(&platform, ServiceKind::Tenants)
            };
            let (status, _) = call(
                &client,
                method.clone(),
                &format!("{}{path}", svc.url),
                own,
                Some(json!({})),
            )
            .await;
            assert!(
                status == 401 || status == 403,
                "{name}: straight to the service: {method} {path}: {status}"
            );
        }
        let (status, _) = call(
            &client,
            Method::PUT,
            &url("/realms/master/v3_realm/kobil1"),
            own,
            Some(json!({"enabled": false})),
        )
        .await;
        assert_eq!(status, 401, "{name}");

        // List and info.
        let (_, list) = call(&client, Method::GET, &tenants_url, token, None).await;
        let kobil1 = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "kobil1")
            .unwrap()
            .clone();
        assert_eq!(kobil1["realmCreationStatus"], "ACTIVE", "{name}: {kobil1}");
        assert_eq!(kobil1["adminUsername"], "tadmin");
        assert_eq!(kobil1["enabled"], true);
        let info_url = url("/realms/master/v4_realm/kobil1");
        let (status, info) = call(&client, Method::GET, &info_url, token, None).await;
        assert_eq!(status, 200, "{name}: {info}");
        ok_envelope(&info, 1);
        assert_eq!(info["data"]["realm"], "kobil1");
        assert_eq!(info["data"]["loginTheme"], "kobilv2");
        assert_eq!(info["data"]["bruteForceProtected"], true);
        assert_eq!(info["data"]["actionTokenGeneratedByAdminLifespan"], 86400);
        assert_eq!(info["data"]["settings"]["UserProperty"], "id");
        assert_eq!(
            info["data"]["requiredActions"][0]["alias"],
            "kobil-reg-status-required-action"
        );
        assert_eq!(info["data"]["adminUsername"], "tadmin");
        assert_eq!(info["data"]["realmCreationStatus"], "ACTIVE");
        let text = info.to_string();
        assert!(
            !text.contains(&long_password) && !text.contains("adminPassword"),
            "{name}"
        );
        let (status, reply) = call(
            &client,
            Method::GET,
            &url("/realms/master/v4_realm/nope"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        assert_eq!(reply["status"], "TENANT_NOT_FOUND");

        // Update: realm fields, settings and the admin's password.
        let update_url = url("/realms/master/v3_realm/kobil1");
        let new_password = "Another-passw0rd-that-is-long";
        let (status, reply) = call(
            &client,
            Method::PUT,
            &update_url,
            token,
            Some(json!({
                "loginTheme": "other",
                "adminUsername": "tadmin",
                "adminPassword": new_password,
                "settings": {"extra": "1"},
            })),
        )
        .await;
        assert_eq!(status, 200, "{name}: {reply}");
        ok_envelope(&reply, 1);
        let (_, info) = call(&client, Method::GET, &info_url, token, None).await;
        assert_eq!(info["data"]["loginTheme"], "other");
        assert_eq!(info["data"]["settings"]["extra"], "1");
        assert_eq!(info["data"]["settings"]["UserProperty"], "id");
        assert_eq!(
            password_status(&client, &gw, "kobil1", "tadmin", new_password).await,
            200,
            "{name}: the new password works"
        );
        let old = password_status(&client, &gw, "kobil1", "tadmin", &long_password).await;
        assert!(
            old == 400 || old == 401,
            "{name}: the old password does not work: {old}"
        );
        for body in [
            json!({"adminUsername": "someone-else"}),
            json!({"loginTheme": 5}),
            json!({"settings": {"a": [1]}}),
            json!({"enabled": "no"}),
        ] {
            let (status, _) =
                call(&client, Method::PUT, &update_url, token, Some(body.clone())).await;
            assert_eq!(status, 400, "{name}: {body}");
        }
        let (_, info) = call(&client, Method::GET, &info_url, token, None).await;
        assert_eq!(info["data"]["loginTheme"], "other", "{name}: unchanged");
        let (status, _) = call(
            &client,
            Method::PUT,
            &url("/realms/master/v3_realm/nope"),
            token,
            Some(json!({"enabled": true})),
        )
        .await;
        assert_eq!(status, 404, "{name}");

        // Settings.
        let settings_url = url("/realms/kobil1/v3_realm/settings");
        let (status, reply) = call(
            &client,
            Method::POST,
            &settings_url,
            token,
            Some(json!({"key": "value", "n": 3})),
        )
        .await;
        assert_eq!(status, 200, "{name}: {reply}");
        let (_, settings) = call(&client, Method::GET, &settings_url, token, None).await;
        assert_eq!(settings["data"]["key"], "value");
        assert_eq!(settings["data"]["n"], 3);
        for body in [json!({}), json!({"a": {"b": 1}}), json!([1])] {
            let (status, _) = call(
                &client,
                Method::POST,
                &settings_url,
                token,
                Some(body.clone()),
            )
            .await;
            assert_eq!(status, 400, "{name}: {body}");
        }
        for (query, expected) in [("?key=key", 200), ("?key=key", 404), ("", 400)] {
            let (status, _) = call(
                &client,
                Method::DELETE,
                &format!("{settings_url}{query}"),
                token,
                None,
            )
            .await;
            assert_eq!(status, expected, "{name}: DELETE {query}");
        }
        let (_, settings) = call(&client, Method::GET, &settings_url, token, None).await;
        assert!(settings["data"].get("key").is_none(), "{name}");
        assert_eq!(settings["data"]["n"], 3, "{name}: the others stay");

        // App settings: the version keys of the seed only.
        let app_settings_url = url("/realms/kobil1/v3_realm/appsettings");
        let (status, _) = call(
            &client,
            Method::POST,
            &app_settings_url,
            token,
            Some(json!({"macos_version": "1.4.0", "windows_build_number": 4, "flutter_ios_update_by": "30.07.2023"})),
        )
        .await;
        assert_eq!(status, 200, "{name}");
        let (status, _) = call(
            &client,
            Method::POST,
            &app_settings_url,
            token,
            Some(json!({"macos_version": "2", "UserProperty": "x"})),
        )
        .await;
        assert_eq!(status, 400, "{name}: not an app setting");
        let (_, app_settings) = call(&client, Method::GET, &app_settings_url, token, None).await;
        assert_eq!(
            app_settings["data"],
            json!({"macos_version": "1.4.0", "windows_build_number": 4, "flutter_ios_update_by": "30.07.2023"}),
            "{name}"
        );

        // Realm roles.
        for (method, path, expected) in [
            (Method::POST, "/realms/kobil1/v3_role/editor", 200),
            (Method::POST, "/realms/kobil1/v3_role/editor", 409),
            (Method::DELETE, "/realms/kobil1/v3_role/editor", 200),
            (Method::DELETE, "/realms/kobil1/v3_role/editor", 404),
            (
                Method::DELETE,
                "/realms/kobil1/v3_role/default-roles-kobil1",
                400,
            ),
            (Method::POST, "/realms/nope/v3_role/editor", 404),
        ] {
            let (status, reply) = call(&client, method.clone(), &url(path), token, None).await;
            assert_eq!(status, expected, "{name}: {method} {path}: {reply}");
            assert_eq!(reply["subSystem"], 1, "{name}: {reply}");
        }

        // Apps.
        let apps_url = url("/realms/kobil1/v3_client");
        let (status, reply) = call(
            &client,
            Method::POST,
            &apps_url,
            token,
            Some(json!({
                "appName": "appname1",
                "name": "new-app",
                "description": null,
                "adminUrl": null,
                "surrogateAuthRequired": true,
                "enabled": true,
                "appAuthenticatorType": null,
                "registrationAccessToken": null,
                "defaultRoles": "string",
                "redirectUris": "https://app1.example/cb",
                "implicitFlowEnabled": true,
                "directAccessGrantsEnabled": true
            })),
        )
        .await;
        assert_eq!(status, 200, "{name}: {reply}");
        ok_envelope(&reply, 2);
        for (body, expected) in [
            (json!({"appName": "appname1"}), 409),
            (json!({"appName": "x", "redirectUris": "/*"}), 400),
            (json!({"appName": "x", "publicApp": "yes"}), 400),
            (json!({"name": "no app name"}), 400),
        ] {
            let (status, reply) =
                call(&client, Method::POST, &apps_url, token, Some(body.clone())).await;
            assert_eq!(status, expected, "{name}: {body} -> {reply}");
            assert_eq!(reply["subSystem"], 2);
        }
        let (_, list) = call(&client, Method::GET, &apps_url, token, None).await;
        let app_names: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["appName"].as_str().unwrap())
            .collect();
        assert_eq!(app_names, ["appname1", "digitanium-app"], "{name}");
        let app_url = format!("{apps_url}/appname1");
        let (status, app) = call(&client, Method::GET, &app_url, token, None).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(app["data"]["appName"], "appname1");
        assert_eq!(app["data"]["name"], "new-app");
        assert_eq!(app["data"]["publicApp"], false);
        assert_eq!(app["data"]["implicitFlowEnabled"], true);
        assert_eq!(
            app["data"]["redirectUris"],
            json!(["https://app1.example/cb"])
        );
        assert_eq!(app["data"]["defaultRoles"], json!(["string"]));
        assert!(
            app["data"].get("clientId").is_none(),
            "{name}: KOBIL's names"
        );

        let (status, _) = call(
            &client,
            Method::PUT,
            &app_url,
            token,
            Some(json!({"implicitFlowEnabled": false, "authenticationFlowBindingOverrides": {"browser": ""}, "name": "renamed"})),
        )
        .await;
        assert_eq!(status, 200, "{name}");
        let (status, _) = call(
            &client,
            Method::PUT,
            &apps_url,
            token,
            Some(json!({"appName": "appname1", "description": "seed form"})),
        )
        .await;
        assert_eq!(status, 200, "{name}");
        let (_, app) = call(&client, Method::GET, &app_url, token, None).await;
        assert_eq!(app["data"]["implicitFlowEnabled"], false);
        assert_eq!(app["data"]["name"], "renamed");
        assert_eq!(app["data"]["description"], "seed form");
        let (status, _) = call(
            &client,
            Method::PUT,
            &app_url,
            token,
            Some(json!({"appName": "other"})),
        )
        .await;
        assert_eq!(status, 400, "{name}: no renaming here");

        let secret_url = url("/realms/kobil1/v3_client/secret/digitanium-app");
        let (status, read) = call(&client, Method::GET, &secret_url, token, None).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(read["data"], app_secret.as_str());
        let (status, fresh) = call(&client, Method::POST, &secret_url, token, None).await;
        assert_eq!(status, 200, "{name}");
        let fresh = fresh["data"].as_str().unwrap().to_owned();
        assert_ne!(fresh, app_secret);
        assert_eq!(
            grant_status(&client, &gw, "kobil1", "digitanium-app", &fresh).await,
            200
        );
        assert_eq!(
            grant_status(&client, &gw, "kobil1", "digitanium-app", &app_secret).await,
            401,
            "{name}: the old secret stops at once"
        );

        let (status, _) = call(&client, Method::DELETE, &app_url, token, None).await;
        assert_eq!(status, 200, "{name}");
        let (status, reply) = call(&client, Method::GET, &app_url, token, None).await;
        assert_eq!(status, 404, "{name}");
        assert_eq!(reply["status"], "APP_NOT_FOUND");
        assert_eq!(reply["subSystem"], 2);

        // The UMA app; `migrate` puts uma_authorization back into the default role.
        let default_composites = url("/admin/realms/kobil1/roles/default-roles-kobil1/composites");
        let (status, _) = call(
            &client,
            Method::DELETE,
            &default_composites,
            token,
            Some(json!([{"name": "uma_authorization"}])),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (status, _) = call(
            &client,
            Method::POST,
            &url("/realms/kobil1/v3_client/uma?adminuser=a&adminpassword=b"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 400, "{name}: migrate is required");
        let uma_url = url("/realms/kobil1/v3_client/uma?adminuser=a&adminpassword=b&migrate=true");
        let (status, reply) = call(&client, Method::POST, &uma_url, token, None).await;
        assert_eq!(status, 200, "{name}: {reply}");
        let (status, _) = call(&client, Method::POST, &uma_url, token, None).await;
        assert_eq!(status, 409, "{name}");
        let (_, held) = call(&client, Method::GET, &default_composites, token, None).await;
        let held: Vec<&str> = held
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(held.contains(&"uma_authorization"), "{name}: {held:?}");
        let (_, uma) = call(
            &client,
            Method::GET,
            &url("/realms/kobil1/v3_client/uma-app"),
            token,
            None,
        )
        .await;
        assert_eq!(uma["data"]["authorizationServicesEnabled"], true, "{name}");

        // Deleting the tenant removes its users and apps too.
        let (status, _) = call(
            &client,
            Method::DELETE,
            &url("/admin/realms/kobil1"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let apps = service(&platform, ServiceKind::Apps);
        let service_token = apps.ctx.settings.security.service_token.clone().unwrap();
        for (svc, path) in [
            (
                ServiceKind::Apps,
                "/internal/realms/kobil1/clients/digitanium-app",
            ),
            (
                ServiceKind::Users,
                "/internal/realms/kobil1/users/by-username/tadmin",
            ),
        ] {
            let reply = client
                .get(format!("{}{path}", service(&platform, svc).url))
                .header(SERVICE_TOKEN_HEADER, service_token.expose())
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 404, "{name}: {path}");
        }
        platform.stop().await;
    }
}
