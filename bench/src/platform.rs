//! The platform under test: the release binary as a child process with fresh storage, its
//! services' direct addresses (from its JSON log) and its CPU time and memory (from /proc).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::Args;

pub struct Platform {
    child: Child,
    dir: PathBuf,
    pub gateway: String,
    /// Service name (e.g. "svc-users") -> its own base URL, bypassing the gateway.
    pub services: HashMap<String, String>,
    pub admin_username: String,
    pub admin_password: String,
    /// Prefix of this run's PostgreSQL schemas (`bench<port>_`), dropped by [`Platform::drop_schemas`].
    pub schema_prefix: Option<String>,
    /// The credential of the services' internal routes, shared with the proxying gateway.
    pub service_token: String,
    pub ready_after: Duration,
    pub http: reqwest::Client,
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .expect("/dev/urandom");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

impl Platform {
    pub async fn start(args: &Args) -> Result<Platform, String> {
        if !args.idp.exists() {
            return Err(format!(
                "{} not found: run `cargo build --release` first",
                args.idp.display()
            ));
        }
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("idp-bench-{}", random(6)));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("idp.log")).map_err(|e| e.to_string())?;
        let admin_password = random(18);
        let service_token = random(24);
        let mut command = Command::new(&args.idp);
        command
            .env("IDP_DATA_DIR", &dir)
            .env("IDP_HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("IDP_BOOTSTRAP_ADMIN_USERNAME", "bench-admin")
            .env("IDP_BOOTSTRAP_ADMIN_PASSWORD", &admin_password)
            .env("IDP_SECURITY__SERVICE_TOKEN", &service_token)
            .env("IDP_TELEMETRY__JSON_LOGS", "true")
            .env("IDP_TELEMETRY__LOG_LEVEL", "info")
            // Throughput is measured, not the limits that protect it.
            .env("IDP_GATEWAY__RATE_LIMITS__ENABLED", "false")
            .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(log));
        if let Some(url) = &args.database_url {
            let key = base64::engine::general_purpose::STANDARD.encode(random(24).as_bytes());
            command
                .env("IDP_DATABASE__URL", url)
                .env("IDP_DATABASE__SCHEMA_PREFIX", format!("bench{}_", port))
                .env("IDP_CACHE__URL", &args.redis_url)
                .env("IDP_CACHE__PREFIX", format!("bench{port}:"))
                .env("IDP_SECURITY__KEY_ENCRYPTION_KEY", key);
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start idp: {e}"))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| e.to_string())?;
        let gateway = format!("http://127.0.0.1:{port}");
        let mut platform = Platform {
            child,
            dir,
            gateway: gateway.clone(),
            services: HashMap::new(),
            admin_username: "bench-admin".into(),
            admin_password,
            schema_prefix: args.database_url.as_ref().map(|_| format!("bench{port}_")),
            service_token,
            ready_after: Duration::ZERO,
            http,
        };
        loop {
            if let Ok(reply) = platform
                .http
                .get(format!("{gateway}/health/ready"))
                .send()
                .await
                && reply.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "idp not ready after 60 s; see {}",
                    platform.dir.display()
                ));
            }
            if let Ok(Some(status)) = platform.child.try_wait() {
                return Err(format!(
                    "idp exited with {status}; see {}/idp.log",
                    platform.dir.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        platform.ready_after = started.elapsed();
        platform.services = service_addresses(&platform.dir.join("idp.log"));
        Ok(platform)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user + system) the platform has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.pid())
    }

    /// Resident memory of the platform process, MiB.
    pub fn rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// Drops this run's PostgreSQL schemas (with `psql`), once the platform has stopped.
    pub fn drop_schemas(&self, database_url: &str) {
        let Some(prefix) = &self.schema_prefix else {
            return;
        };
        let sql = format!(
            "DO $$ DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace \
             WHERE starts_with(nspname, '{prefix}') LOOP \
             EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END $$;"
        );
        let dropped = Command::new("psql")
            .env("PGOPTIONS", "--client-min-messages=warning")
            .arg(database_url)
            .args(["-qc", &sql])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !dropped {
            println!("note: could not drop the schemas {prefix}* (psql); drop them by hand");
        }
    }

    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// CPU seconds of `pid` and its children (nginx's workers), from /proc.
pub fn cpu_seconds_of_tree(pid: u32) -> f64 {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    cpu_seconds_of(pid)
        + children
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
            .map(cpu_seconds_of)
            .sum::<f64>()
}

/// CPU seconds (user + system) process `pid` has used so far, from /proc.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / ticks_per_second()
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The "service listening" lines of the JSON log: service name -> address.
fn service_addresses(log: &std::path::Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["message"] == "service listening")
        .filter_map(|v| {
            Some((
                v["service"].as_str()?.to_owned(),
                v["address"].as_str()?.to_owned(),
            ))
        })
        .collect()
}
