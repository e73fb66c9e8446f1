//! The sender: a task of every svc-tenants replica that delivers the outbox. Each round it
//! claims due mails (a claim is an UPDATE that only one replica's row count wins), sends each
//! in its own task with lettre, and marks it SENT, due again after a doubling wait, or FAILED
//! after the tenant's last attempt. It sleeps until the next mail falls due, a poll interval
//! (mail queued on other replicas), or a wake-up from a route of this one.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use idp_shared::ServiceContext;
use idp_shared::config::MailSettings;
use idp_shared::db::DbError;
use idp_shared::names::now_millis;
use idp_shared::security::{SecretBox, random_token};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{Notify, Semaphore};

use crate::State;
use crate::mail::setup::password_context;
use crate::mail::{RetryPolicy, Template, display_name, params_context, templates};
use crate::store::mail::{self as mail_store, MailConfigRow, OutboxRow};
use crate::store::{self, Tenant};

/// Longest sleep: how late a replica notices mail queued on another one.
const POLL: Duration = Duration::from_secs(5);
/// Mails in flight at once per replica.
const CONCURRENCY: usize = 16;
/// Longest SMTP conversation; a claim older than `STALE_CLAIM_MS` belongs to a dead sender.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
const STALE_CLAIM_MS: i64 = 5 * 60 * 1000;
/// Sent mails are kept this long (ids in logs stay traceable), then forgotten.
const SENT_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
const PURGE_EVERY_MS: i64 = 60 * 1000;
/// Longest error text stored with a mail.
const MAX_ERROR: usize = 500;

/// Starts the sender of this replica. It ends once `state` and its clones are gone (the
/// service stopped) or with the runtime.
pub fn spawn(state: &State) -> tokio::task::JoinHandle<()> {
    let sender = Sender {
        ctx: state.ctx.clone(),
        secrets: state.secrets.clone(),
    };
    let wake = state.outbox.wake.clone();
    let alive = Arc::downgrade(&state.outbox.alive);
    tokio::spawn(sender.run(wake, alive))
}

#[derive(Clone)]
struct Sender {
    ctx: ServiceContext,
    secrets: SecretBox,
}

/// Why an attempt failed, without any secret; `permanent` ones are not retried.
struct Failure {
    message: String,
    permanent: bool,
}

impl Failure {
    fn retry(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            permanent: false,
        }
    }
    fn permanent(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            permanent: true,
        }
    }
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Failure::retry(format!("database: {e}"))
    }
}

impl Sender {
    async fn run(self, wake: Arc<Notify>, alive: Weak<()>) {
        let permits = Arc::new(Semaphore::new(CONCURRENCY));
        let mut last_purge = 0;
        loop {
            if alive.strong_count() == 0 {
                tracing::debug!("mail sender stopped");
                return;
            }
            let mut wait = POLL;
            if self.ctx.db.is_migrated() && self.ctx.probes().is_started() {
                match self.round(&permits, &wake, &mut last_purge).await {
                    Ok(Some(next)) => {
                        let until = u64::try_from(next - now_millis()).unwrap_or(0);
                        wait = wait.min(Duration::from_millis(until));
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "mail sender: the outbox is unreachable"),
                }
            } else {
                // Migrations still running.
                wait = Duration::from_millis(200);
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Claims what is due, as far as free delivery slots go, and starts sending it without
    /// waiting (a slow server holds only its own mail; a finished delivery rings `wake`).
    /// Returns when the next unclaimed mail falls due.
    async fn round(
        &self,
        permits: &Arc<Semaphore>,
        wake: &Arc<Notify>,
        last_purge: &mut i64,
    ) -> Result<Option<i64>, DbError> {
        let db = &self.ctx.db;
        let now = now_millis();
        let free = permits.available_permits();
        if free == 0 {
            return Ok(None);
        }
        let stale_before = now - STALE_CLAIM_MS;
        let ids = db
            .run(move |conn| mail_store::due(conn, now, stale_before, free as i64))
            .await?;
        for id in ids {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                break;
            };
            let token = random_token(12);
            let claim_token = token.clone();
            let claimed = db
                .run(move |conn| mail_store::claim(conn, &id, &claim_token, now, stale_before))
                .await?;
            // Another replica was faster.
            let Some(row) = claimed else { continue };
            let (sender, wake) = (self.clone(), wake.clone());
            tokio::spawn(async move {
                sender.deliver(row, token).await;
                drop(permit);
                wake.notify_one();
            });
        }
        if now - *last_purge > PURGE_EVERY_MS {
            *last_purge = now;
            let before = now - SENT_RETENTION_MS;
            db.run(move |conn| mail_store::purge_sent(conn, before))
                .await?;
        }
        db.run(mail_store::next_due).await
    }

    /// Sends one claimed mail and records the outcome.
    async fn deliver(self, row: OutboxRow, token: String) {
        let tenant_id = row.tenant_id.clone();
        let tenant = self
            .ctx
            .db
            .run(move |conn| store::find_by_id(conn, &tenant_id))
            .await;
        let (policy, tenant_name, outcome) = match tenant {
            Ok(Some(tenant)) => {
                let outcome = self.attempt(&tenant, &row).await;
                (RetryPolicy::of(&tenant.settings), tenant.row.name, outcome)
            }
            Ok(None) => (
                RetryPolicy::of(&Default::default()),
                String::new(),
                Err(Failure::permanent("the tenant no longer exists")),
            ),
            Err(e) => (
                RetryPolicy::of(&Default::default()),
                String::new(),
                Err(Failure::from(e)),
            ),
        };
        let now = now_millis();
        let (id, attempts) = (row.id.clone(), row.attempts);
        let recorded = match outcome {
            Ok(()) => {
                tracing::info!(tenant = %tenant_name, mail = %id, template = %row.template, attempts, "mail sent");
                self.ctx
                    .db
                    .run(move |conn| mail_store::mark_sent(conn, &id, &token, now))
                    .await
            }
            Err(f) if f.permanent || attempts >= policy.max_attempts => {
                tracing::warn!(tenant = %tenant_name, mail = %id, template = %row.template, attempts, error = %f.message, "mail given up");
                self.ctx
                    .db
                    .run(move |conn| mail_store::mark_failed(conn, &id, &token, &f.message))
                    .await
            }
            Err(f) => {
                let next = now + policy.delay_after(attempts);
                tracing::warn!(tenant = %tenant_name, mail = %id, template = %row.template, attempts, retry_in_ms = next - now, error = %f.message, "mail not sent; will retry");
                self.ctx
                    .db
                    .run(move |conn| mail_store::mark_retry(conn, &id, &token, next, &f.message))
                    .await
            }
        };
        if let Err(e) = recorded {
            // The claim goes stale and the mail is tried again.
            tracing::warn!(mail = %row.id, error = %e, "mail sender: the outcome was not recorded");
        }
    }

    async fn attempt(&self, tenant: &Tenant, row: &OutboxRow) -> Result<(), Failure> {
        let template = Template::parse(&row.template)
            .ok_or_else(|| Failure::permanent(format!("unknown template {}", row.template)))?;
        let params: BTreeMap<String, String> = match &row.params_sealed {
            None => BTreeMap::new(),
            Some(sealed) => self
                .secrets
                .open(sealed, &params_context(&row.id))
                .ok()
                .and_then(|raw| serde_json::from_slice(&raw).ok())
                .ok_or_else(|| Failure::permanent("the parameters cannot be unsealed"))?,
        };
        let display = display_name(tenant);
        let rendered =
            templates::render(template, &display, &params).map_err(Failure::permanent)?;
        let tenant_id = tenant.row.id.clone();
        let config = self
            .ctx
            .db
            .run(move |conn| mail_store::find_config(conn, &tenant_id))
            .await?;
        let server = Server::resolve(
            config,
            &self.ctx.settings.mail,
            &tenant.row.name,
            &self.secrets,
        )?;
        let to: Address = row
            .recipient
            .parse()
            .map_err(|_| Failure::permanent("the recipient is not an address"))?;
        let message = server
            .message(&display, to, rendered)
            .map_err(|e| Failure::permanent(format!("the message cannot be built: {e}")))?;
        let transport = server.transport()?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Failure::retry(server.redact(&e.to_string()))),
        }
    }
}

/// Where and as whom a tenant's mail is sent: its own server, or the platform's.
struct Server {
    host: String,
    port: u16,
    ssl: bool,
    starttls: bool,
    credentials: Option<(String, String)>,
    from: Address,
    from_name: Option<String>,
    reply_to: Option<Mailbox>,
    envelope_from: Option<Address>,
}

impl Server {
    fn resolve(
        config: Option<MailConfigRow>,
        platform: &MailSettings,
        tenant: &str,
        secrets: &SecretBox,
    ) -> Result<Server, Failure> {
        let bad = |what: &str| Failure::permanent(format!("the stored {what} is not an address"));
        let Some(c) = config else {
            let host = platform
                .smtp_host
                .clone()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    Failure::retry(
                        "no SMTP server: the tenant has none and mail.smtp_host is unset",
                    )
                })?;
            // The platform's server is a local relay or sink: plain SMTP, no login.
            return Ok(Server {
                host,
                port: platform.smtp_port,
                ssl: false,
                starttls: false,
                credentials: None,
                from: platform.from.parse().map_err(|_| bad("mail.from"))?,
                from_name: None,
                reply_to: None,
                envelope_from: None,
            });
        };
        let credentials = match (c.auth, &c.username, &c.password_sealed) {
            (true, Some(user), Some(sealed)) => {
                let password = secrets
                    .open(sealed, &password_context(tenant))
                    .ok()
                    .and_then(|p| String::from_utf8(p).ok())
                    .ok_or_else(|| {
                        Failure::retry(
                            "the SMTP password cannot be unsealed (key-encryption key changed?); \
                             set it again",
                        )
                    })?;
                Some((user.clone(), password))
            }
            _ => None,
        };
        let reply_to = match &c.reply_to {
            Some(a) => Some(Mailbox::new(
                c.reply_to_display_name.clone(),
                a.parse().map_err(|_| bad("replyTo"))?,
            )),
            None => None,
        };
        Ok(Server {
            port: u16::try_from(c.port).map_err(|_| bad("port"))?,
            ssl: c.ssl,
            starttls: c.starttls,
            credentials,
            from: c.from_address.parse().map_err(|_| bad("from"))?,
            from_name: c.from_display_name.clone(),
            reply_to,
            envelope_from: match &c.envelope_from {
                Some(a) => Some(a.parse().map_err(|_| bad("envelopeFrom"))?),
                None => None,
            },
            host: c.host,
        })
    }

    fn message(
        &self,
        display: &str,
        to: Address,
        rendered: templates::Rendered,
    ) -> Result<Message, lettre::error::Error> {
        let from_name = self.from_name.clone().unwrap_or_else(|| display.to_owned());
        let mut builder = Message::builder()
            .from(Mailbox::new(Some(from_name), self.from.clone()))
            .to(Mailbox::new(None, to.clone()))
            .subject(rendered.subject);
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        if let Some(bounce) = &self.envelope_from {
            builder = builder.envelope(lettre::address::Envelope::new(
                Some(bounce.clone()),
                vec![to],
            )?);
        }
        builder.multipart(MultiPart::alternative_plain_html(
            rendered.text,
            rendered.html,
        ))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|e| Failure::retry(format!("TLS setup: {e}")))
        };
        // `ssl` is SMTPS (TLS from the first byte); `starttls` upgrades and refuses to go on
        // in plain text.
        let mode = if self.ssl {
            Tls::Wrapper(tls(&self.host)?)
        } else if self.starttls {
            Tls::Required(tls(&self.host)?)
        } else {
            Tls::None
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(SMTP_TIMEOUT))
            .tls(mode);
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }

    /// An SMTP error as it may be stored and logged: whatever of the password (plain or in
    /// the AUTH encodings) a server may have echoed is masked, and the text is cut short.
    fn redact(&self, error: &str) -> String {
        let mut text = error.to_owned();
        if let Some((user, password)) = &self.credentials {
            let b64 = base64::engine::general_purpose::STANDARD;
            for secret in [
                password.clone(),
                b64.encode(password),
                b64.encode(format!("\0{user}\0{password}")),
            ] {
                if !secret.is_empty() {
                    text = text.replace(&secret, "***");
                }
            }
        }
        text.chars().take(MAX_ERROR).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_carry_the_password() {
        let server = Server {
            host: "h".into(),
            port: 25,
            ssl: false,
            starttls: false,
            credentials: Some(("user".into(), "hunter2".into())),
            from: "a@b.example".parse().unwrap(),
            from_name: None,
            reply_to: None,
            envelope_from: None,
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let echoed = format!(
            "535 bad: hunter2 {} {}",
            b64.encode("hunter2"),
            b64.encode("\0user\0hunter2")
        );
        let shown = server.redact(&echoed);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains(&b64.encode("hunter2")), "{shown}");
        assert_eq!(shown.matches("***").count(), 3, "{shown}");
        assert_eq!(server.redact(&"x".repeat(2000)).len(), MAX_ERROR);
    }
}
