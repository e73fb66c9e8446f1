//! The load generator: `concurrency` closed-loop workers per scenario, each sending its next
//! request when the last one answered, until the time or request bound is reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::platform::Platform;
use crate::seed::{PASSWORD, SECRET, Seeded};

#[derive(Debug, Clone)]
pub enum Call {
    ClientCredentials {
        realm: String,
    },
    Password {
        realm: String,
    },
    /// Each worker signs in once, then rotates its own refresh token.
    Refresh {
        realm: String,
    },
    Introspect {
        realm: String,
    },
    /// An authenticated GET of one user (`base` = the gateway or svc-users itself).
    GetUser {
        base: String,
    },
    /// An authenticated admin GET through the gateway (`path` and query, e.g. a user list).
    AdminGet {
        path: String,
    },
    /// client_credentials against the peer provider.
    PeerClientCredentials {
        url: String,
    },
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub call: Call,
}

pub struct Outcome {
    pub name: &'static str,
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_seconds: f64,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
    pub fn cpu_ms_per_request(&self) -> f64 {
        1000.0 * self.cpu_seconds / self.requests.max(1) as f64
    }
}

pub fn scenarios(seeded: &Seeded, users: usize) -> Vec<Scenario> {
    let mut list = Vec::new();
    for (realm, algorithm) in &seeded.realms {
        let (cc, refresh) = match *algorithm {
            "RS256" => ("client_credentials-rs256", "refresh-rs256"),
            _ => ("client_credentials-es256", "refresh-es256"),
        };
        list.push(Scenario {
            name: cc,
            call: Call::ClientCredentials {
                realm: realm.clone(),
            },
        });
        list.push(Scenario {
            name: refresh,
            call: Call::Refresh {
                realm: realm.clone(),
            },
        });
    }
    let first = seeded.realms[0].0.clone();
    list.push(Scenario {
        name: "password-rs256",
        call: Call::Password {
            realm: first.clone(),
        },
    });
    list.push(Scenario {
        name: "introspect",
        call: Call::Introspect {
            realm: first.clone(),
        },
    });
    list.push(Scenario {
        name: "get-user-via-gateway",
        call: Call::GetUser {
            base: seeded.gateway.clone(),
        },
    });
    if let Some(direct) = &seeded.users_service {
        list.push(Scenario {
            name: "get-user-direct",
            call: Call::GetUser {
                base: direct.clone(),
            },
        });
    }
    if let Some(proxy) = &seeded.proxy_gateway {
        list.push(Scenario {
            name: "get-user-via-gateway-proxy",
            call: Call::GetUser {
                base: proxy.clone(),
            },
        });
    }
    if let Some(nginx) = &seeded.nginx {
        list.push(Scenario {
            name: "get-user-via-nginx",
            call: Call::GetUser {
                base: nginx.clone(),
            },
        });
    }
    if users > 0 {
        let middle = users / 2;
        for (name, path) in [
            (
                "users-list-page",
                format!("/admin/realms/bench-rs256/users?first={middle}&max=100"),
            ),
            (
                "users-search-prefix",
                format!(
                    "/admin/realms/bench-rs256/users?search=user-{:04}&max=100",
                    middle / 100
                ),
            ),
            (
                "users-search-q-attribute",
                "/admin/realms/bench-rs256/users?q=dept:dept-7&max=100".to_owned(),
            ),
            (
                "users-count",
                "/admin/realms/bench-rs256/users/count".to_owned(),
            ),
            (
                "users-count-search",
                "/admin/realms/bench-rs256/users/count?search=user-01".to_owned(),
            ),
            (
                "users-security-report-page",
                format!("/realms/bench-rs256/user-security-resources/users?page={middle}&size=100"),
            ),
        ] {
            list.push(Scenario {
                name,
                call: Call::AdminGet { path },
            });
        }
    }
    list
}

fn basic() -> String {
    let pair = format!("bench-app:{SECRET}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// One worker's view: what it sends next.
struct Worker {
    http: reqwest::Client,
    gateway: String,
    admin_token: String,
    user_id: String,
    refresh_token: Option<String>,
    access_token: Option<String>,
}

impl Worker {
    fn token_url(&self, realm: &str) -> String {
        format!(
            "{}/realms/{realm}/protocol/openid-connect/token",
            self.gateway
        )
    }

    async fn password_grant(&self, realm: &str) -> Result<Value, String> {
        let reply = self
            .http
            .post(self.token_url(realm))
            .header("authorization", basic())
            .form(&[
                ("grant_type", "password"),
                ("username", "bench-user"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !reply.status().is_success() {
            return Err(format!("password grant: {}", reply.status()));
        }
        reply.json().await.map_err(|e| e.to_string())
    }

    /// Sends one request; Ok(true) when it succeeded.
    async fn call(&mut self, call: &Call) -> Result<bool, String> {
        let reply = match call {
            Call::ClientCredentials { realm } => {
                self.http
                    .post(self.token_url(realm))
                    .header("authorization", basic())
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
            }
            Call::Password { realm } => return Ok(self.password_grant(realm).await.is_ok()),
            Call::Refresh { realm } => {
                let token = self.refresh_token.clone().unwrap_or_default();
                let reply = self
                    .http
                    .post(self.token_url(realm))
                    .header("authorization", basic())
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                    ])
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !reply.status().is_success() {
                    return Ok(false);
                }
                let body: Value = reply.json().await.map_err(|e| e.to_string())?;
                self.refresh_token = body["refresh_token"].as_str().map(str::to_owned);
                return Ok(true);
            }
            Call::Introspect { realm } => {
                let token = self.access_token.clone().unwrap_or_default();
                self.http
                    .post(format!("{}/introspect", self.token_url(realm)))
                    .header("authorization", basic())
                    .form(&[("token", token.as_str())])
                    .send()
                    .await
            }
            Call::GetUser { base } => {
                self.http
                    .get(format!(
                        "{base}/admin/realms/bench-rs256/users/{}",
                        self.user_id
                    ))
                    .bearer_auth(&self.admin_token)
                    .send()
                    .await
            }
            Call::PeerClientCredentials { url } => {
                self.http
                    .post(format!("{url}/token"))
                    .header("authorization", basic())
                    .form(&[("grant_type", "client_credentials"), ("scope", "api")])
                    .send()
                    .await
            }
            Call::AdminGet { path } => {
                self.http
                    .get(format!("{}{path}", self.gateway))
                    .bearer_auth(&self.admin_token)
                    .send()
                    .await
            }
        };
        let reply = reply.map_err(|e| e.to_string())?;
        let ok = reply.status().is_success();
        let _ = reply.bytes().await;
        Ok(ok)
    }
}

pub async fn run(
    platform: &Platform,
    seeded: &Seeded,
    scenario: &Scenario,
    concurrency: usize,
    duration: Duration,
    max_requests: usize,
) -> Result<Outcome, String> {
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let mut worker = Worker {
            http: seeded.http.clone(),
            gateway: seeded.gateway.clone(),
            admin_token: seeded.admin_token.clone(),
            user_id: seeded.user_id.clone(),
            refresh_token: None,
            access_token: None,
        };
        match &scenario.call {
            Call::Refresh { realm } | Call::Introspect { realm } => {
                let tokens = worker.password_grant(realm).await?;
                worker.refresh_token = tokens["refresh_token"].as_str().map(str::to_owned);
                worker.access_token = tokens["access_token"].as_str().map(str::to_owned);
            }
            _ => {}
        }
        workers.push(worker);
    }
    // Through a process in front of the platform, its CPU is part of the request's cost.
    let front = match &scenario.call {
        Call::GetUser { base } => seeded
            .fronts
            .iter()
            .find(|(url, _)| url == base)
            .map(|(_, pid)| *pid),
        _ => None,
    };
    Ok(drive(
        &|| platform.cpu_seconds() + front.map_or(0.0, crate::platform::cpu_seconds_of_tree),
        scenario,
        workers,
        duration,
        max_requests,
    )
    .await)
}

/// The same closed-loop load against the peer provider (its CPU from its own process).
pub async fn drive_peer(
    peer: &crate::peer::Peer,
    scenario: &Scenario,
    concurrency: usize,
    duration: Duration,
    max_requests: usize,
) -> Outcome {
    let workers = (0..concurrency)
        .map(|_| Worker {
            http: reqwest::Client::new(),
            gateway: String::new(),
            admin_token: String::new(),
            user_id: String::new(),
            refresh_token: None,
            access_token: None,
        })
        .collect();
    let pid = peer.pid();
    drive(
        &move || crate::platform::cpu_seconds_of(pid),
        scenario,
        workers,
        duration,
        max_requests,
    )
    .await
}

async fn drive(
    cpu: &dyn Fn() -> f64,
    scenario: &Scenario,
    workers: Vec<Worker>,
    duration: Duration,
    max_requests: usize,
) -> Outcome {
    let sent = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu();
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            let (call, sent) = (scenario.call.clone(), sent.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                while Instant::now() < deadline
                    && sent.fetch_add(1, Ordering::Relaxed) < max_requests
                {
                    let t = Instant::now();
                    match worker.call(&call).await {
                        Ok(true) => latencies.push(t.elapsed().as_micros() as u32),
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e)) = task.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = cpu() - cpu_before;
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |us| f64::from(*us) / 1000.0)
    };
    Outcome {
        name: scenario.name,
        requests: latencies.len(),
        errors,
        seconds,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        cpu_seconds,
    }
}
