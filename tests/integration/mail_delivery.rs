//! Mail really delivered, on every backend, to an SMTP sink written here (a few lines of
//! tokio: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT), so CI needs nothing installed: the test
//! mail and mail queued by other services (`POST /internal/realms/{t}/mail`) arrive through the
//! tenant's own server (logging in with its unsealed password) or the platform's; a server that
//! is down or hangs never delays a reply, the mail is retried until the server is up, and given
//! up (FAILED, kept) after the tenant's last attempt.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{ADMIN_PASSWORD, ADMIN_USERNAME, master_admin_token, service};
use base64::Engine;
use idp_shared::ServiceKind;
use idp_shared::db::Db;
use idp_shared::http_client::SERVICE_TOKEN_HEADER;
use idp_shared::service::{ServiceContext, start_with_context};
use idp_shared::testkit::{TestEnv, backends, http};
use serde_json::{Value, json};
use svc_tenants::store::mail::{FAILED, OutboxRow, PENDING, SENT};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const SMTP_PASSWORD: &str = "Sink-login-s3cret";
const PLATFORM_FROM: &str = "platform@idp.example";

/// One mail as the sink received it.
#[derive(Debug, Clone, Default)]
struct Received {
    /// `user:password` of the AUTH PLAIN before it, if any.
    login: Option<String>,
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// A minimal SMTP server that keeps what it is sent.
struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn angle(arg: &str) -> String {
    arg.trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn smtp_session(stream: TcpStream, mails: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut mail = Received::default();
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if let Some(arg) = upper.strip_prefix("AUTH PLAIN ") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(line[line.len() - arg.len()..].trim())
                .unwrap_or_default();
            let parts: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            mail.login = Some(parts[1..].join(":"));
            b"235 2.7.0 accepted\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail.mail_from = angle(&line[10..]);
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.rcpt_to.push(angle(&line[8..]));
            b"250 ok\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if read.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            mail.data = data;
            let login = mail.login.clone();
            mails.lock().unwrap().push(std::mem::take(&mut mail));
            mail.login = login;
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        write.write_all(reply).await?;
    }
}

impl Sink {
    /// Listens on `port` (0: any free one) of the loopback.
    async fn start(port: u16) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(smtp_session(stream, kept.clone()));
            }
        });
        Sink { port, mails, task }
    }

    fn mails(&self) -> Vec<Received> {
        self.mails.lock().unwrap().clone()
    }

    /// The mails to `to`, once there are `n` of them (fails after 20 s).
    async fn wait_for(&self, to: &str, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found: Vec<Received> = self
                .mails()
                .into_iter()
                .filter(|m| m.rcpt_to.iter().any(|r| r == to))
                .collect();
            if found.len() >= n || Instant::now() > deadline {
                assert_eq!(found.len(), n, "mails to {to}: {found:?}");
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A server that accepts connections and never says a word (an SMTP server that hangs).
async fn tarpit() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (port, task)
}

/// A loopback port nothing listens on (for now).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The platform as `common::ready_platform` starts it, its default mail server at `smtp_port`.
async fn mail_platform(env: &TestEnv, smtp_port: u16) -> idp::Platform {
    let mut settings = env.settings();
    settings.http.bind = Some("127.0.0.1:0".into());
    settings.bootstrap_admin_username = Some(ADMIN_USERNAME.into());
    settings.bootstrap_admin_password = Some(idp_shared::config::Secret::new(ADMIN_PASSWORD));
    settings.mail.smtp_host = Some("127.0.0.1".into());
    settings.mail.smtp_port = smtp_port;
    settings.mail.from = PLATFORM_FROM.into();
    let platform = idp::start(settings).await.unwrap();
    for svc in &platform.services {
        idp_shared::testkit::wait_until_started(svc).await;
    }
    platform
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    let reply = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// Creates a realm and points its mail at `port` of the loopback, with `extra` setup fields.
async fn realm_with_smtp(
    client: &reqwest::Client,
    gw: &str,
    admin: &str,
    realm: &str,
    port: u16,
    extra: Value,
) {
    let (status, body) = post(
        client,
        &format!("{gw}/admin/realms"),
        admin,
        json!({"realm": realm, "enabled": true, "displayName": "Acme Corp"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut setup = json!({"host": "127.0.0.1", "port": port.to_string(),
                           "from": format!("noreply@{realm}.example")});
    for (k, v) in extra.as_object().unwrap() {
        setup[k] = v.clone();
    }
    let (status, body) = post(
        client,
        &format!("{gw}/realms/{realm}/mail/setup"),
        admin,
        setup,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn outbox_row(db: &Db, id: &str) -> OutboxRow {
    let id = id.to_owned();
    db.run(move |conn| svc_tenants::store::mail::find_mail(conn, &id))
        .await
        .unwrap()
        .expect("the mail is in the outbox")
}

/// Waits until the mail's row satisfies `done` (fails after 20 s).
async fn wait_row(db: &Db, id: &str, what: &str, done: impl Fn(&OutboxRow) -> bool) -> OutboxRow {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = outbox_row(db, id).await;
        if done(&row) {
            return row;
        }
        assert!(Instant::now() < deadline, "{what}: {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn mail_arrives_through_the_tenants_server_and_the_platforms() {
    for backend in backends() {
        let sink = Sink::start(0).await;
        let env = TestEnv::new(&backend).await;
        let platform = mail_platform(&env, sink.port).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let tenants = service(&platform, ServiceKind::Tenants);
        let db = tenants.ctx.db.clone();
        realm_with_smtp(
            &client,
            &gw,
            &admin,
            "acme",
            sink.port,
            json!({"fromDisplayName": "Acme Mailer", "user": "mailer", "password": SMTP_PASSWORD,
                   "replyTo": "help@acme.example"}),
        )
        .await;

        // The test mail: queued, 200 at once, delivered through the tenant's server.
        let started = Instant::now();
        let (status, body) = post(
            &client,
            &format!("{gw}/realms/acme/mail/test"),
            &admin,
            json!({"mailType": "TEST", "to": "ops@acme.example"}),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["status"], "OK", "{name}: {body}");
        assert_eq!(body["subSystem"], 8, "{name}: {body}");
        assert_eq!(body["data"]["to"], "ops@acme.example", "{name}: {body}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: the reply waited"
        );
        let mail = sink.wait_for("ops@acme.example", 1).await.remove(0);
        assert_eq!(mail.mail_from, "noreply@acme.example", "{name}");
        assert_eq!(
            mail.login.as_deref(),
            Some(format!("mailer:{SMTP_PASSWORD}").as_str()),
            "{name}: logged in with the unsealed password"
        );
        assert!(
            mail.data.contains("Subject: Test message from Acme Corp"),
            "{name}: {}",
            mail.data
        );
        assert!(mail.data.contains("Acme Mailer"), "{name}: {}", mail.data);
        assert!(
            mail.data.contains("Reply-To: help@acme.example"),
            "{name}: {}",
            mail.data
        );
        assert!(
            mail.data.contains("text/plain") && mail.data.contains("text/html"),
            "{name}"
        );
        assert!(
            mail.data.contains("its mail settings work"),
            "{name}: {}",
            mail.data
        );
        let id = body["data"]["id"].as_str().unwrap().to_owned();
        let row = wait_row(&db, &id, "sent", |r| r.status == SENT).await;
        assert_eq!(row.attempts, 1, "{name}");
        assert_eq!(
            row.params_sealed, None,
            "{name}: parameters kept after sending"
        );

        // Without `to`, the test mail goes to the caller's own address (refused while the
        // caller has none).
        let users: Value = client
            .get(format!(
                "{gw}/admin/realms/master/users?username={ADMIN_USERNAME}&exact=true"
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut me = users[0].clone();
        let my_id = me["id"].as_str().expect("the admin").to_owned();
        let own = format!("{gw}/realms/acme/mail/test");
        if me.get("email").is_none_or(Value::is_null) {
            let (status, body) = post(&client, &own, &admin, json!({"mailType": "TEST"})).await;
            assert_eq!(status, 400, "{name}: {body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("no email address"),
                "{name}: {body}"
            );
        }
        me["email"] = json!("root@acme.example");
        let put = client
            .put(format!("{gw}/admin/realms/master/users/{my_id}"))
            .bearer_auth(&admin)
            .json(&me)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 204, "{name}");
        let (status, body) = post(&client, &own, &admin, json!({"mailType": "TEST"})).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["data"]["to"], "root@acme.example", "{name}: {body}");
        sink.wait_for("root@acme.example", 1).await;

        // WELCOME as a test mail, with its links.
        let (status, body) = post(
            &client,
            &format!("{gw}/realms/acme/mail/test"),
            &admin,
            json!({"mailType": "WELCOME", "to": "new@acme.example",
                   "portalUrl": "https://portal.acme.example/start"}),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let welcome = sink.wait_for("new@acme.example", 1).await.remove(0);
        assert!(
            welcome.data.contains("Subject: Welcome to Acme Corp"),
            "{name}: {}",
            welcome.data
        );
        assert!(
            welcome.data.contains("https://portal.acme.example/start"),
            "{name}"
        );

        // Another service queues a mail: 202 with its id, delivered.
        let internal = format!("{}/internal/realms/acme/mail", tenants.url);
        let token = tenants
            .ctx
            .settings
            .security
            .service_token
            .as_ref()
            .unwrap()
            .expose()
            .to_owned();
        let queue = |body: Value| {
            let (client, internal, token) = (client.clone(), internal.clone(), token.clone());
            async move {
                let reply = client
                    .post(&internal)
                    .header(SERVICE_TOKEN_HEADER, token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = reply.status().as_u16();
                (status, reply.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let link = "https://idp.example/realms/acme/magic/abc123";
        let (status, body) = queue(json!({"template": "MAGIC_LINK", "to": "bob@acme.example",
                                          "params": {"link": link, "expiresInMinutes": 15}}))
        .await;
        assert_eq!(status, 202, "{name}: {body}");
        let id = body["id"].as_str().expect("an id").to_owned();
        let magic = sink.wait_for("bob@acme.example", 1).await.remove(0);
        assert!(
            magic
                .data
                .contains("Subject: Your sign-in link for Acme Corp"),
            "{name}: {}",
            magic.data
        );
        assert!(magic.data.contains(link), "{name}: {}", magic.data);
        assert!(
            magic.data.contains("within 15 minutes"),
            "{name}: {}",
            magic.data
        );
        wait_row(&db, &id, "sent", |r| r.status == SENT).await;

        // Bad requests: 400 with a reason, nothing queued; unknown tenant 404; no token 401.
        let acme_id = db
            .run(|conn| svc_tenants::store::find_by_name(conn, "acme"))
            .await
            .unwrap()
            .unwrap()
            .row
            .id;
        let count = |db: Db, id: String| async move {
            db.run(move |conn| svc_tenants::store::mail::tenant_mails(conn, &id))
                .await
                .unwrap()
                .len()
        };
        let before = count(db.clone(), acme_id.clone()).await;
        for (bad, needle) in [
            (
                json!({"template": "NEWSLETTER", "to": "bob@acme.example"}),
                "unknown mail template",
            ),
            (json!({"template": "TEST", "to": "bob"}), "email address"),
            (
                json!({"template": "MAGIC_LINK", "to": "bob@acme.example"}),
                "params.link",
            ),
            (
                json!({"template": "MAGIC_LINK", "to": "bob@acme.example",
                    "params": {"link": "javascript:alert(1)"}}),
                "http(s) URL",
            ),
            (
                json!({"template": "TEST", "to": "bob@acme.example", "params": "x"}),
                "JSON object",
            ),
        ] {
            let (status, body) = queue(bad.clone()).await;
            assert_eq!(status, 400, "{name}: {bad}: {body}");
            assert!(body.to_string().contains(needle), "{name}: {bad}: {body}");
        }
        let (status, _) =
            queue(json!({"template": "TEST", "to": "bob@acme.example", "cc": "x"})).await;
        assert_eq!(status, 400, "{name}: unknown field");
        assert_eq!(
            count(db.clone(), acme_id.clone()).await,
            before,
            "{name}: a refused mail was queued"
        );
        let reply = client
            .post(format!("{}/internal/realms/nowhere/mail", tenants.url))
            .header(SERVICE_TOKEN_HEADER, &token)
            .json(&json!({"template": "TEST", "to": "bob@acme.example"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 404, "{name}");
        let reply = client
            .post(&internal)
            .json(&json!({"template": "TEST", "to": "bob@acme.example"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401, "{name}: no service token");
        // `/internal` is not reachable through the gateway.
        let reply = client
            .post(format!("{gw}/internal/realms/acme/mail"))
            .header(SERVICE_TOKEN_HEADER, &token)
            .json(&json!({"template": "TEST", "to": "bob@acme.example"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 404, "{name}: /internal through the gateway");

        // A tenant without a server of its own uses the platform's, as the platform's sender.
        let (status, _) = post(
            &client,
            &format!("{gw}/admin/realms"),
            &admin,
            json!({"realm": "plain", "enabled": true}),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let reply = client
            .post(format!("{}/internal/realms/plain/mail", tenants.url))
            .header(SERVICE_TOKEN_HEADER, &token)
            .json(
                &json!({"template": "VERIFY_EMAIL", "to": "carol@plain.example",
                          "params": {"link": "https://idp.example/verify/xyz"}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 202, "{name}");
        let verify = sink.wait_for("carol@plain.example", 1).await.remove(0);
        assert_eq!(verify.mail_from, PLATFORM_FROM, "{name}");
        assert_eq!(
            verify.login, None,
            "{name}: the platform's relay needs no login"
        );
        assert!(
            verify
                .data
                .contains("Subject: Verify your email address for plain"),
            "{name}: {}",
            verify.data
        );
        assert!(
            verify.data.contains("https://idp.example/verify/xyz"),
            "{name}"
        );

        // Each mail arrived once.
        assert_eq!(sink.mails().len(), 5, "{name}: {:?}", sink.mails());
        platform.stop().await;
    }
}

#[actix_web::test]
async fn smtp_failures_are_retried_then_given_up_and_never_delay_a_reply() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = mail_platform(&env, closed_port()).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let db = service(&platform, ServiceKind::Tenants).ctx.db.clone();
        let send_test = |realm: &'static str, to: &'static str| {
            let (client, gw, admin) = (client.clone(), gw.clone(), admin.clone());
            async move {
                let started = Instant::now();
                let (status, body) = post(
                    &client,
                    &format!("{gw}/realms/{realm}/mail/test"),
                    &admin,
                    json!({"mailType": "WELCOME", "to": to,
                           "portalUrl": "https://portal.example/welcome-link"}),
                )
                .await;
                assert_eq!(status, 200, "{realm}: {body}");
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "{realm}: the reply waited on SMTP"
                );
                body["data"]["id"].as_str().unwrap().to_owned()
            }
        };

        // The server is down: the mail waits, is retried, and arrives once it is up.
        let down = closed_port();
        realm_with_smtp(
            &client,
            &gw,
            &admin,
            "down",
            down,
            json!({"user": "u", "password": SMTP_PASSWORD}),
        )
        .await;
        let (status, body) = post(
            &client,
            &format!("{gw}/realms/down/v3_realm/settings"),
            &admin,
            json!({"mailRetryDelayMillis": 200}),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let id = send_test("down", "late@down.example").await;
        // Attempts count when claimed: wait for the second one to have failed and let go.
        let row = wait_row(&db, &id, "retried", |r| {
            r.attempts >= 2 && r.claimed_at.is_none()
        })
        .await;
        assert_eq!(row.status, PENDING, "{name}: {row:?}");
        let error = row.last_error.clone().expect("the failure is recorded");
        assert!(!error.contains(SMTP_PASSWORD), "{name}: {error}");
        let sealed = row
            .params_sealed
            .clone()
            .expect("parameters kept while pending");
        assert!(
            !sealed.contains("welcome-link"),
            "{name}: parameters stored in clear"
        );
        let sink = Sink::start(down).await;
        let mail = sink.wait_for("late@down.example", 1).await.remove(0);
        assert_eq!(
            mail.login.as_deref(),
            Some(format!("u:{SMTP_PASSWORD}").as_str()),
            "{name}"
        );
        let row = wait_row(&db, &id, "sent", |r| r.status == SENT).await;
        assert!(row.attempts >= 3, "{name}: {row:?}");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(sink.mails().len(), 1, "{name}: sent more than once");

        // A tenant allows two attempts: then the mail is FAILED and kept.
        realm_with_smtp(&client, &gw, &admin, "gone", closed_port(), json!({})).await;
        let (status, body) = post(
            &client,
            &format!("{gw}/realms/gone/v3_realm/settings"),
            &admin,
            json!({"mailRetryDelayMillis": "100", "mailMaxAttempts": 2}),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        let id = send_test("gone", "never@gone.example").await;
        let row = wait_row(&db, &id, "given up", |r| r.status == FAILED).await;
        assert_eq!(row.attempts, 2, "{name}: {row:?}");
        assert!(row.last_error.is_some(), "{name}");
        assert_eq!(row.params_sealed, None, "{name}");
        // Nonsense retry settings are refused.
        for bad in [
            json!({"mailRetryDelayMillis": "soon"}),
            json!({"mailMaxAttempts": 0}),
        ] {
            let (status, body) = post(
                &client,
                &format!("{gw}/realms/gone/v3_realm/settings"),
                &admin,
                bad.clone(),
            )
            .await;
            assert_eq!(status, 400, "{name}: {bad}: {body}");
        }

        // A server that hangs holds neither the reply nor other tenants' mail.
        let (slow, _tarpit) = tarpit().await;
        realm_with_smtp(&client, &gw, &admin, "slow", slow, json!({})).await;
        let stuck = send_test("slow", "stuck@slow.example").await;
        let row = wait_row(&db, &stuck, "claimed", |r| r.attempts == 1).await;
        assert_eq!(row.status, PENDING, "{name}");
        let fast = Sink::start(0).await;
        realm_with_smtp(&client, &gw, &admin, "fast", fast.port, json!({})).await;
        send_test("fast", "quick@fast.example").await;
        fast.wait_for("quick@fast.example", 1).await;
        let row = outbox_row(&db, &stuck).await;
        assert!(
            row.status == PENDING && row.claimed_at.is_some(),
            "{name}: the hanging delivery should still be under way: {row:?}"
        );
        platform.stop().await;
    }
}

/// Two svc-tenants replicas on one database race for the same outbox: each mail is claimed by
/// one of them and arrives exactly once.
#[actix_web::test]
async fn replicas_never_send_a_mail_twice() {
    for backend in backends() {
        let sink = Sink::start(0).await;
        let env = TestEnv::new(&backend).await;
        let name = backend.name();
        let mut settings = env.settings();
        settings.mail.smtp_host = Some("127.0.0.1".into());
        settings.mail.smtp_port = sink.port;
        settings.mail.from = PLATFORM_FROM.into();
        let settings = std::sync::Arc::new(settings);
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let ctx =
                ServiceContext::new(ServiceKind::Tenants, settings.clone(), env.cache.clone())
                    .unwrap();
            ctx.db.migrate(&svc_tenants::MIGRATIONS).await.unwrap();
            let listener = idp_shared::service::bind("127.0.0.1:0").unwrap();
            let replica = start_with_context::<svc_tenants::State>(ctx, listener, 1)
                .await
                .unwrap();
            idp_shared::testkit::wait_until_started(&replica).await;
            replicas.push(replica);
        }
        let token = settings
            .security
            .service_token
            .as_ref()
            .unwrap()
            .expose()
            .to_owned();
        let client = http();
        const MAILS: usize = 30;
        for i in 0..MAILS {
            // Alternating: each queueing wakes its replica, which claims whatever is due.
            let replica = &replicas[i % 2];
            let reply = client
                .post(format!("{}/internal/realms/master/mail", replica.url))
                .header(SERVICE_TOKEN_HEADER, &token)
                .json(&json!({"template": "TEST", "to": format!("user{i}@race.example")}))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 202, "{name}");
        }
        for i in 0..MAILS {
            sink.wait_for(&format!("user{i}@race.example"), 1).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(sink.mails().len(), MAILS, "{name}: a mail was sent twice");
        for replica in &replicas {
            idp_shared::service::stop_gracefully(replica).await;
        }
    }
}
