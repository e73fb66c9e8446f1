//! svc-riskbits through the gateway on every backend: the seed's twelve riskbits loaded by the
//! bulk route, device risk verification by Android and iOS risk name and by score, the single
//! riskbit routes, every refused input (4xx with a message, nothing changed) and who may do
//! what (tenant admins and master admins write; the tenant's apps read and verify).

use crate::common;

use crate::common::{add_service_client, client_credentials_token, ready_platform, service};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_shared::testkit::{TestEnv, backends, http};
use idp_shared::{IdpService, ServiceKind};
use serde_json::{Map, Value, json};

const SECRET: &str = "q9Lw3Rt7Yb1Nc5Vx8Mz2Kd6Hf0Gs4Ja7Pe3Ui9Oy1T";

/// The twelve sample riskbits of the seed's "Add List of Riskbits", for `realm`.
fn seed_riskbits(realm: &str) -> Value {
    let rows = [
        ("OK", "A", "0.80%", "", "", "986-999"),
        ("OK", "B", "1.64%", "", "", "977-985"),
        ("OK", "C", "2.47%", "", "", "970-976"),
        ("OK", "D", "3.10%", "", "", "962-969"),
        (
            "OK",
            "E",
            "4.38%",
            "JBreak[1](300)",
            "JBreak[400]",
            "949-961",
        ),
        (
            "OK",
            "F",
            "6.21%",
            "Manipulation[2](4),Manipulation[2](35)",
            "",
            "928-948",
        ),
        (
            "HIGH_RISK",
            "G",
            "9.5%",
            "CodeInjection[6](2),CodeInjection[6](20000)",
            "",
            "877-928",
        ),
        (
            "HIGH_RISK",
            "H",
            "16.74%",
            "Manipulation[2](9",
            "JBreak[400],JBreak[5455],CodeInjection[6][7]",
            "800-876",
        ),
        (
            "HIGH_RISK",
            "I",
            "25.97%",
            "JBreak[1](40001)",
            "JBreak[1](15),JBreak[1](101)",
            "718-799",
        ),
        (
            "HIGH_RISK",
            "J",
            "32.56%",
            "Manipulation,MaliciousApp",
            "Manipulation,MaliciousApp",
            "639-717",
        ),
        (
            "HIGH_RISK",
            "K",
            "41.77%",
            "Jbreak,Emulator",
            "Jbreak,Emulator",
            "492-638",
        ),
        (
            "HIGH_RISK",
            "L",
            "60.45%",
            "CodeInjection",
            "CodeInjection",
            "1-491",
        ),
    ];
    rows.iter()
        .map(|(operation, level, risk, android, ios, score)| {
            json!({
                "operation": operation,
                "ratingLevel": level,
                "realmId": realm,
                "risk": risk,
                "riskAndroid": android,
                "riskIOS": ios,
                "score": score,
            })
        })
        .collect()
}

fn claims_of(jwt: &str) -> Map<String, Value> {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The rating levels of a list of riskbits, in order.
fn levels(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| r["ratingLevel"].as_str().unwrap().to_owned())
        .collect()
}

/// A client of the riskbits API of one tenant, through the gateway.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn new(gw: &str, realm: &str) -> Api {
        Api {
            client: http(),
            base: format!("{gw}/realms/{realm}/kobilriskbits/resources-auth"),
        }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}{rest}", self.base)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        rest: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.url(rest))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
        };
        (status, body)
    }

    async fn post(&self, rest: &str, token: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, rest, token, Some(body))
            .await
    }

    async fn put(&self, rest: &str, token: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, rest, token, Some(body))
            .await
    }

    async fn get(&self, rest: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, rest, token, None).await
    }

    async fn delete(&self, rest: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, rest, token, None).await
    }

    /// The verify route's answer: the matching rating levels, or None for 204.
    async fn verify(&self, token: &str, body: Value) -> Option<Vec<String>> {
        let (status, reply) = self.post("/verify", token, &body).await;
        match status {
            200 => Some(levels(&reply)),
            204 => None,
            other => panic!("verify {body}: {other} {reply}"),
        }
    }

    /// Every riskbit of the realm (read with `token`).
    async fn all(&self, token: &str) -> Value {
        let (status, list) = self.get("", token).await;
        assert_eq!(status, 200, "{list}");
        list
    }
}

/// An error reply: the status and that it explains itself.
fn assert_refused(what: &str, (status, body): &(u16, Value), expected: u16, says: &str) {
    assert_eq!(*status, expected, "{what}: {body}");
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no message in {body}"));
    assert!(
        message.contains(says),
        "{what}: message {message:?} lacks {says:?}"
    );
}

fn riskbit(realm: &str, level: &str, score: &str, ios: &str) -> Value {
    json!({
        "operation": "MEDIUM",
        "ratingLevel": level,
        "realmId": realm,
        "risk": "5%",
        "riskAndroid": "",
        "riskIOS": ios,
        "score": score,
    })
}

#[actix_web::test]
async fn tenant_riskbits_are_loaded_verified_and_guarded() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();

        // A tenant with an app (client token, no roles), and an app of master.
        let tenants = service(&platform, ServiceKind::Tenants);
        let acme = svc_tenants::new_tenant("acme", true, Map::new(), 1);
        tenants
            .ctx
            .db
            .run(move |conn| svc_tenants::store::insert(conn, &acme))
            .await
            .unwrap();
        add_service_client(&platform, "acme", "device-app", SECRET).await;
        add_service_client(&platform, "master", "robot", SECRET).await;
        let acme_app = client_credentials_token(&client, &gw, "acme", "device-app", SECRET).await;
        let master_app = client_credentials_token(&client, &gw, "master", "robot", SECRET).await;

        // Admin tokens: the apps' own tokens re-signed by svc-auth with the tenant's real key
        // and the realm role `admin` added (the password grant for users is another issue).
        let auth = service(&platform, ServiceKind::Auth);
        let auth_state = svc_auth::State::build(auth.ctx.clone()).await.unwrap();
        let with_admin_role = |token: &str, tenant: &'static str| {
            let mut claims = claims_of(token);
            claims.insert("realm_access".into(), json!({"roles": ["admin"]}));
            let state = auth_state.clone();
            async move {
                let info = svc_auth::tenants::enabled_tenant(&state, tenant)
                    .await
                    .unwrap();
                let now = idp_shared::names::now_millis();
                svc_auth::tokens::sign(&state, &info, Value::Object(claims), now)
                    .await
                    .unwrap()
            }
        };
        let acme_admin = with_admin_role(&acme_app, "acme").await;
        let master_admin = with_admin_role(&master_app, "master").await;

        let api = Api::new(&gw, "acme");

        // The seed's twelve through the bulk route: all added, nothing to report.
        let (status, reply) = api.post("/list", &acme_admin, &seed_riskbits("acme")).await;
        assert_eq!(status, 200, "{name}: {reply}");
        assert_eq!(
            reply,
            json!({
                "message": "Add riskbits request completed successfully",
                "status": "OK",
                "subSystem": 1,
                "data": {},
            }),
            "{name}"
        );
        let all = api.all(&acme_app).await;
        assert_eq!(
            levels(&all),
            ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L"],
            "{name}"
        );
        let a = &all[0];
        assert_eq!(a["score"], "986-999", "{name}");
        assert_eq!(a["risk"], "0.80%", "{name}");
        assert_eq!(a["operation"], "OK", "{name}");
        assert_eq!(a["realmId"], "acme", "{name}");
        assert!(
            a["riskAndroid"].is_null() && a["riskIOS"].is_null(),
            "{name}: {a}"
        );
        assert_eq!(a["id"].as_str().unwrap().len(), 36, "{name}: a uuid");
        assert_eq!(
            all[7]["riskIOS"], "JBreak[400],JBreak[5455],CodeInjection[6][7]",
            "{name}"
        );

        // Verification by the tenant's app: Android and iOS names, any case of platform.
        let verify = |body: Value| api.verify(&acme_app, body);
        assert_eq!(
            verify(json!({"riskName": "JBreak[1](40001)", "platform": "android"})).await,
            Some(vec!["I".to_owned()]),
            "{name}"
        );
        assert_eq!(
            verify(json!({"riskName": "JBreak[400]", "platform": "IOS"})).await,
            Some(vec!["E".to_owned(), "H".to_owned()]),
            "{name}"
        );
        assert_eq!(
            verify(json!({"riskName": "JBreak[1](15)", "platform": "iOS"})).await,
            Some(vec!["I".to_owned()]),
            "{name}"
        );
        assert_eq!(
            verify(json!({"riskName": "JBreak[400]", "platform": "Android"})).await,
            None,
            "{name}: an iOS risk is not an Android one"
        );
        assert_eq!(
            verify(json!({"riskName": "jbreak[400]", "platform": "ios"})).await,
            None,
            "{name}: names match exactly"
        );
        assert_eq!(
            verify(json!({"riskName": "Manipulation[2](9", "platform": "android"})).await,
            Some(vec!["H".to_owned()]),
            "{name}"
        );
        // Scores: the seed's ranges touch at 928, so both F and G hold it.
        assert_eq!(
            verify(json!({"platform": "android", "score": 928})).await,
            Some(vec!["F".to_owned(), "G".to_owned()]),
            "{name}"
        );
        assert_eq!(
            verify(json!({"platform": "ios", "score": "1"})).await,
            Some(vec!["L".to_owned()]),
            "{name}"
        );
        assert_eq!(
            verify(json!({"platform": "ios", "score": 0})).await,
            None,
            "{name}: below every range"
        );
        assert_eq!(
            verify(json!({"riskName": "Emulator", "platform": "ios", "score": 986})).await,
            Some(vec!["A".to_owned(), "K".to_owned()]),
            "{name}: a name or a score"
        );
        assert_eq!(
            verify(json!({"riskName": "Jbreak", "platform": "android", "score": 500})).await,
            Some(vec!["K".to_owned()]),
            "{name}: one riskbit matched twice is listed once"
        );

        // A second bulk request: the valid item is added, each other is reported by position
        // and rating level with its reason.
        let mut mismatch = seed_riskbits("malda")[10].clone();
        mismatch["ratingLevel"] = json!("K2");
        let (status, reply) = api
            .post(
                "/list",
                &acme_admin,
                &json!([
                    riskbit("acme", "M", "0-0", "NewRisk"),
                    seed_riskbits("acme")[0],
                    mismatch,
                    riskbit("acme", "N", "10-1", ""),
                    riskbit("acme", "M", "0-0", ""),
                    "not a riskbit",
                ]),
            )
            .await;
        assert_eq!(status, 200, "{name}: {reply}");
        assert_eq!(reply["status"], "OK", "{name}");
        let data = reply["data"].as_object().unwrap();
        assert_eq!(data.len(), 5, "{name}: {reply}");
        assert_eq!(
            data["item 1 (ratingLevel A)"],
            "a riskbit with ratingLevel A already exists in this realm",
            "{name}"
        );
        assert_eq!(
            data["item 2 (ratingLevel K2)"],
            "Mismatch in realm specified in path param and request body",
            "{name}"
        );
        assert!(
            data["item 3 (ratingLevel N)"]
                .as_str()
                .unwrap()
                .contains("lower number first"),
            "{name}: {reply}"
        );
        assert!(
            data["item 4 (ratingLevel M)"]
                .as_str()
                .unwrap()
                .contains("earlier in this request"),
            "{name}: {reply}"
        );
        assert_eq!(data["item 5"], "not a JSON object", "{name}");
        assert_eq!(
            api.all(&acme_app).await.as_array().unwrap().len(),
            13,
            "{name}"
        );
        assert_eq!(
            verify(json!({"riskName": "NewRisk", "platform": "ios"})).await,
            Some(vec!["M".to_owned()]),
            "{name}"
        );

        // One riskbit: create, read, replace.
        let (status, created) = api
            .post(
                "",
                &acme_admin,
                &riskbit("acme", "X", "1001-1003", "JBreak_test"),
            )
            .await;
        assert_eq!(status, 201, "{name}: {created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created["ratingLevel"], "X", "{name}");
        assert_eq!(created["operation"], "MEDIUM", "{name}");
        let (status, fetched) = api.get(&format!("/{id}"), &acme_app).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(fetched, created, "{name}");
        let mut changed = riskbit("acme", "X", "1001-1004", "OtherRisk");
        changed["id"] = json!(id);
        let (status, updated) = api.put(&format!("/{id}"), &acme_admin, &changed).await;
        assert_eq!(status, 200, "{name}: {updated}");
        assert_eq!(updated["score"], "1001-1004", "{name}");
        assert_eq!(
            verify(json!({"riskName": "OtherRisk", "platform": "ios"})).await,
            Some(vec!["X".to_owned()]),
            "{name}: the index follows an update"
        );
        assert_eq!(
            verify(json!({"riskName": "JBreak_test", "platform": "ios"})).await,
            None,
            "{name}: the old name is gone from the index"
        );
        assert_eq!(
            verify(json!({"platform": "ios", "score": 1004})).await,
            Some(vec!["X".to_owned()]),
            "{name}"
        );

        // Refused input: a clear 4xx, nothing changed.
        let before = api.all(&acme_app).await;
        assert_eq!(before.as_array().unwrap().len(), 14, "{name}");
        let refusals = [
            (
                "duplicate rating level",
                api.post("", &acme_admin, &riskbit("acme", "A", "1-2", ""))
                    .await,
                409,
                "ratingLevel A already exists",
            ),
            (
                "malformed score",
                api.post("", &acme_admin, &riskbit("acme", "Y", "986to999", ""))
                    .await,
                400,
                "score",
            ),
            (
                "score range upside down",
                api.post("", &acme_admin, &riskbit("acme", "Y", "999-986", ""))
                    .await,
                400,
                "lower number first",
            ),
            (
                "negative score",
                api.post("", &acme_admin, &riskbit("acme", "Y", "-5-10", ""))
                    .await,
                400,
                "score",
            ),
            (
                "realm mismatch",
                api.post("", &acme_admin, &riskbit("malda", "Y", "1-2", ""))
                    .await,
                400,
                "Mismatch in realm",
            ),
            (
                "empty risk name in a list",
                api.post("", &acme_admin, &riskbit("acme", "Y", "1-2", "a,,b"))
                    .await,
                400,
                "empty risk name",
            ),
            (
                "unknown operation",
                api.post(
                    "",
                    &acme_admin,
                    &json!({"ratingLevel": "Y", "score": "1-2", "risk": "1%",
                            "operation": "ALLOW"}),
                )
                .await,
                400,
                "unknown operation",
            ),
            (
                "risk not a percentage",
                api.post(
                    "",
                    &acme_admin,
                    &json!({"ratingLevel": "Y", "score": "1-2", "risk": "high",
                            "operation": "OK"}),
                )
                .await,
                400,
                "percentage",
            ),
            (
                "missing rating level",
                api.post(
                    "",
                    &acme_admin,
                    &json!({"score": "1-2", "risk": "1%", "operation": "OK"}),
                )
                .await,
                400,
                "ratingLevel is required",
            ),
            (
                "unknown field",
                api.post(
                    "",
                    &acme_admin,
                    &json!({"ratingLevel": "Y", "score": "1-2", "risk": "1%",
                            "operation": "OK", "scroe": "3-4"}),
                )
                .await,
                400,
                "unknown field",
            ),
            (
                "bulk body not an array",
                api.post("/list", &acme_admin, &riskbit("acme", "Y", "1-2", ""))
                    .await,
                400,
                "JSON array",
            ),
            (
                "bulk body a string",
                api.post("/list", &acme_admin, &json!("A")).await,
                400,
                "JSON array",
            ),
            (
                "update to a taken rating level",
                api.put(
                    &format!("/{id}"),
                    &acme_admin,
                    &riskbit("acme", "A", "1-2", ""),
                )
                .await,
                409,
                "ratingLevel A already exists",
            ),
            (
                "update with another id in the body",
                api.put(
                    &format!("/{id}"),
                    &acme_admin,
                    &json!({"id": "other", "ratingLevel": "X", "score": "1-2", "risk": "1%",
                            "operation": "OK"}),
                )
                .await,
                400,
                "id in the body",
            ),
            (
                "update with a realm mismatch",
                api.put(
                    &format!("/{id}"),
                    &acme_admin,
                    &riskbit("malda", "X", "1-2", ""),
                )
                .await,
                400,
                "Mismatch in realm",
            ),
            (
                "update of an unknown riskbit",
                api.put("/no-such-id", &acme_admin, &riskbit("acme", "Z", "1-2", ""))
                    .await,
                404,
                "not found",
            ),
            (
                "verify: unknown platform",
                api.post(
                    "/verify",
                    &acme_app,
                    &json!({"riskName": "x", "platform": "windows"}),
                )
                .await,
                400,
                "unknown platform",
            ),
            (
                "verify: empty risk name",
                api.post(
                    "/verify",
                    &acme_app,
                    &json!({"riskName": "", "platform": "ios"}),
                )
                .await,
                400,
                "riskName must not be empty",
            ),
            (
                "verify: no platform",
                api.post("/verify", &acme_app, &json!({"riskName": "Jbreak"}))
                    .await,
                400,
                "platform is required",
            ),
            (
                "verify: score not a number",
                api.post(
                    "/verify",
                    &acme_app,
                    &json!({"platform": "ios", "score": "high"}),
                )
                .await,
                400,
                "score must be",
            ),
            (
                "verify: nothing to look for",
                api.post("/verify", &acme_app, &json!({"platform": "ios"}))
                    .await,
                400,
                "riskName is required",
            ),
            (
                "verify: not JSON",
                {
                    let resp = client
                        .post(api.url("/verify"))
                        .bearer_auth(&acme_app)
                        .header("content-type", "application/json")
                        .body("{riskName")
                        .send()
                        .await
                        .unwrap();
                    (resp.status().as_u16(), resp.json().await.unwrap())
                },
                400,
                "",
            ),
        ];
        for (what, reply, status, says) in &refusals {
            assert_refused(&format!("{name}: {what}"), reply, *status, says);
        }
        assert_eq!(api.all(&acme_app).await, before, "{name}: nothing changed");

        // Who may: the tenant's app reads and verifies but never writes; master's app (no
        // admin role) does nothing in acme; a master admin does everything.
        let forbidden = [
            (
                "app creates",
                api.post("", &acme_app, &riskbit("acme", "Y", "1-2", ""))
                    .await,
            ),
            (
                "app bulk adds",
                api.post("/list", &acme_app, &seed_riskbits("acme")).await,
            ),
            (
                "app updates",
                api.put(
                    &format!("/{id}"),
                    &acme_app,
                    &riskbit("acme", "X", "1-2", ""),
                )
                .await,
            ),
            (
                "app deletes one",
                api.delete(&format!("/{id}"), &acme_app).await,
            ),
            ("app deletes all", api.delete("", &acme_app).await),
            ("master app reads", api.get("", &master_app).await),
            (
                "master app verifies",
                api.post(
                    "/verify",
                    &master_app,
                    &json!({"riskName": "Jbreak", "platform": "ios"}),
                )
                .await,
            ),
        ];
        for (what, reply) in &forbidden {
            assert_refused(&format!("{name}: {what}"), reply, 403, "");
        }
        let anonymous = client.get(api.url("")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{name}");
        assert_eq!(api.all(&acme_app).await, before, "{name}: nothing changed");

        assert_eq!(
            api.all(&master_admin).await,
            before,
            "{name}: master admin reads"
        );
        let nowhere = Api::new(&gw, "nowhere");
        assert_refused(
            &format!("{name}: master admin, unknown realm"),
            &nowhere
                .post("", &master_admin, &riskbit("nowhere", "A", "1-2", ""))
                .await,
            404,
            "realm nowhere not found",
        );

        // Delete one (the master admin), then all (the tenant admin).
        let (status, _) = api.delete(&format!("/{id}"), &master_admin).await;
        assert_eq!(status, 204, "{name}");
        assert_refused(
            &format!("{name}: deleted riskbit"),
            &api.get(&format!("/{id}"), &acme_app).await,
            404,
            "not found",
        );
        assert_refused(
            &format!("{name}: deleted twice"),
            &api.delete(&format!("/{id}"), &acme_admin).await,
            404,
            "not found",
        );
        assert_eq!(
            verify(json!({"riskName": "OtherRisk", "platform": "ios"})).await,
            None,
            "{name}"
        );
        let (status, _) = api.delete("", &acme_admin).await;
        assert_eq!(status, 204, "{name}");
        assert_eq!(api.all(&acme_app).await, json!([]), "{name}");
        assert_eq!(
            verify(json!({"riskName": "Jbreak", "platform": "android", "score": 500})).await,
            None,
            "{name}"
        );
        platform.stop().await;
    }
}

/// The bootstrap admin of master (password grant) loads the seed into master; master's apps
/// verify with it.
#[actix_web::test]
async fn the_master_admin_loads_the_seed_for_masters_apps() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        add_service_client(&platform, "master", "device-app", SECRET).await;
        let app = client_credentials_token(&client, &gw, "master", "device-app", SECRET).await;
        let admin = common::master_admin_token(&client, &gw).await;
        let api = Api::new(&gw, "master");

        let (status, reply) = api.post("/list", &admin, &seed_riskbits("master")).await;
        assert_eq!(status, 200, "{name}: {reply}");
        assert_eq!(reply["data"], json!({}), "{name}");
        assert_eq!(api.all(&app).await.as_array().unwrap().len(), 12, "{name}");
        assert_eq!(
            api.verify(
                &app,
                json!({"riskName": "CodeInjection[6](20000)", "platform": "android"})
            )
            .await,
            Some(vec!["G".to_owned()]),
            "{name}"
        );
        assert_eq!(
            api.verify(
                &app,
                json!({"riskName": "JBreak[1](101)", "platform": "ios"})
            )
            .await,
            Some(vec!["I".to_owned()]),
            "{name}"
        );
        assert_eq!(
            api.verify(&app, json!({"platform": "ios", "score": 640}))
                .await,
            Some(vec!["J".to_owned()]),
            "{name}"
        );
        // The same seed again: every item reported as a duplicate, nothing added.
        let (status, reply) = api.post("/list", &admin, &seed_riskbits("master")).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(
            reply["data"].as_object().unwrap().len(),
            12,
            "{name}: {reply}"
        );
        assert_eq!(api.all(&app).await.as_array().unwrap().len(), 12, "{name}");
        platform.stop().await;
    }
}
