//! Each part as its own process, as on Kubernetes: cold start (spawn to `/health/ready`) and
//! idle memory of every service and the gateway; and nginx proxying the same upstream as the
//! gateway, where Debian's nginx is installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

const PARTS: [(&str, &str); 7] = [
    ("svc-auth", "AUTH"),
    ("svc-tenants", "TENANTS"),
    ("svc-apps", "APPS"),
    ("svc-users", "USERS"),
    ("svc-login", "LOGIN"),
    ("svc-riskbits", "RISKBITS"),
    ("gateway", ""),
];

pub struct PartFigures {
    pub name: &'static str,
    pub ready_ms: f64,
    pub idle_rss_mib: f64,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the six services at once and then the gateway as separate processes (fresh SQLite
/// files, one shared service token) and reports each one's cold start (its own spawn to its
/// `/health/ready`, every part polled at once) and idle RSS once all are up.
pub async fn cold_starts(idp: &Path, redis_url: &str) -> Result<Vec<PartFigures>, String> {
    let bin_dir = idp
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = std::env::temp_dir().join(format!("idp-bench-parts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let ports: Vec<u16> = PARTS.iter().map(|_| free_port()).collect();
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let http = reqwest::Client::new();
    let mut running = Running(Vec::new());
    let spawn = |i: usize, running: &mut Running| -> Result<(Instant, u32), String> {
        let name = PARTS[i].0;
        let binary = bin_dir.join(name);
        if !binary.exists() {
            return Err(format!(
                "{} not found: run `cargo build --release --workspace`",
                binary.display()
            ));
        }
        let mut command = Command::new(&binary);
        command
            .env("IDP_DATA_DIR", &dir)
            .env("IDP_HTTP__BIND", format!("127.0.0.1:{}", ports[i]))
            .env(
                "IDP_SECURITY__SERVICE_TOKEN",
                "bench-service-token-0123456789",
            )
            .env("IDP_SECURITY__KEY_ENCRYPTION_KEY", &key)
            .env("IDP_BOOTSTRAP_ADMIN_PASSWORD", "Bench-admin-1")
            .env("IDP_TELEMETRY__LOG_LEVEL", "warn")
            // Separate processes share Redis, as deployed: a cache per process would keep a
            // realm one part looked up before svc-tenants made it "missing" for seconds.
            .env("IDP_CACHE__URL", redis_url)
            .env(
                "IDP_CACHE__PREFIX",
                format!("bench-parts-{}:", std::process::id()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (j, (_, var)) in PARTS.iter().enumerate() {
            if !var.is_empty() {
                command.env(
                    format!("IDP_SERVICES__{var}"),
                    format!("http://127.0.0.1:{}", ports[j]),
                );
            }
        }
        let started = Instant::now();
        let child = command.spawn().map_err(|e| format!("{name}: {e}"))?;
        let pid = child.id();
        running.0.push(child);
        Ok((started, pid))
    };
    // The services at once (their start order does not matter), then the gateway, as a
    // readiness-gated rollout would.
    let mut started = Vec::new();
    for i in 0..PARTS.len() - 1 {
        started.push(spawn(i, &mut running)?);
    }
    let waits = started
        .iter()
        .enumerate()
        .map(|(i, (at, _))| wait_ready(&http, PARTS[i].0, *at, ports[i]));
    let mut ready = futures_util::future::join_all(waits)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, String>>()?;
    let gateway = PARTS.len() - 1;
    let (at, pid) = spawn(gateway, &mut running)?;
    started.push((at, pid));
    ready.push((
        PARTS[gateway].0,
        wait_ready(&http, PARTS[gateway].0, at, ports[gateway])
            .await?
            .1,
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let figures = ready
        .into_iter()
        .zip(started.iter())
        .map(|((name, ready_ms), (_, pid))| PartFigures {
            name,
            ready_ms,
            idle_rss_mib: rss_mib(*pid),
        })
        .collect();
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(figures)
}

async fn wait_ready(
    http: &reqwest::Client,
    name: &'static str,
    started: Instant,
    port: u16,
) -> Result<(&'static str, f64), String> {
    let url = format!("http://127.0.0.1:{port}/health/ready");
    loop {
        if let Ok(r) = http.get(&url).send().await
            && r.status().is_success()
        {
            return Ok((name, started.elapsed().as_secs_f64() * 1000.0));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("{name} not ready after 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// nginx proxying to `upstream` on a free port, when Debian's nginx is installed; its URL.
/// The gateway binary as its own process in front of the all-in-one's services: the deployed
/// topology (a gateway replica proxying over HTTP), for the proxy's own cost. The all-in-one
/// itself calls its services in process.
pub struct ProxyGateway {
    child: Child,
    pub url: String,
}

impl ProxyGateway {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ProxyGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `gateway` (beside `idp`) proxying to `services` (name -> base URL), trusting the
/// platform's issuer `public_url` and presenting its service token.
pub async fn proxy_gateway(
    idp: &Path,
    services: &std::collections::HashMap<String, String>,
    public_url: &str,
    service_token: &str,
) -> Result<ProxyGateway, String> {
    let binary = idp.parent().unwrap_or(Path::new(".")).join("gateway");
    if !binary.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release --workspace`",
            binary.display()
        ));
    }
    let port = free_port();
    let mut command = Command::new(&binary);
    command
        .env("IDP_HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("IDP_HTTP__PUBLIC_URL", public_url)
        .env("IDP_SECURITY__SERVICE_TOKEN", service_token)
        .env("IDP_GATEWAY__RATE_LIMITS__ENABLED", "false")
        .env("IDP_TELEMETRY__LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, var) in PARTS.iter().filter(|(_, var)| !var.is_empty()) {
        let url = services
            .get(*name)
            .ok_or_else(|| format!("the platform's log names no address of {name}"))?;
        command.env(format!("IDP_SERVICES__{var}"), url);
    }
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start the gateway: {e}"))?;
    let gateway = ProxyGateway {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..500 {
        if let Ok(reply) = http
            .get(format!("{}/health/ready", gateway.url))
            .send()
            .await
            && reply.status().is_success()
        {
            return Ok(gateway);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("the proxying gateway was not ready after 5 s".into())
}

pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub url: String,
}

impl Nginx {
    /// The master process; its workers are its children.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers first (SIGKILL left them running, orphaned).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn nginx(upstream: &str) -> Option<Nginx> {
    let binary = Path::new("/usr/sbin/nginx");
    if !binary.exists() {
        return None;
    }
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("idp-bench-nginx-{port}"));
    std::fs::create_dir_all(&dir).ok()?;
    let target = upstream.trim_start_matches("http://");
    let d = dir.display();
    // As close to the gateway as nginx allows: keep-alive to the upstream, no logging.
    let conf = format!(
        "worker_processes 2;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; \
         fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
         upstream svc {{ server {target}; keepalive 64; }}\n\
         server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://svc; \
         proxy_http_version 1.1; proxy_set_header Connection \"\"; \
         proxy_set_header X-Forwarded-For $remote_addr; }} }} }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).ok()?;
    let child = Command::new(binary)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-p")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{url}/health/live")).send().await.is_ok() {
            return Some(Nginx { child, dir, url });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}
