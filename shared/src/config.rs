//! Configuration: built-in defaults (the embedded mode) < optional file named by `IDP_CONFIG`
//! < environment (`IDP_` prefix, `__` between levels). Unknown keys are an error at start, so a
//! misspelt variable cannot silently fall back to a default.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use config::{Config, Environment, File};
use serde::Deserialize;

/// Which process a configuration is for: it picks the default port, database file and schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    Gateway,
    Auth,
    Tenants,
    Apps,
    Users,
    Login,
    Riskbits,
}

impl ServiceKind {
    pub const SERVICES: [ServiceKind; 6] = [
        ServiceKind::Auth,
        ServiceKind::Tenants,
        ServiceKind::Apps,
        ServiceKind::Users,
        ServiceKind::Login,
        ServiceKind::Riskbits,
    ];

    /// Short name: the Postgres schema, the SQLite file stem and the config key in `services`.
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Gateway => "gateway",
            ServiceKind::Auth => "auth",
            ServiceKind::Tenants => "tenants",
            ServiceKind::Apps => "apps",
            ServiceKind::Users => "users",
            ServiceKind::Login => "login",
            ServiceKind::Riskbits => "riskbits",
        }
    }

    /// The binary / telemetry name.
    pub fn binary(self) -> &'static str {
        match self {
            ServiceKind::Gateway => "gateway",
            ServiceKind::Auth => "svc-auth",
            ServiceKind::Tenants => "svc-tenants",
            ServiceKind::Apps => "svc-apps",
            ServiceKind::Users => "svc-users",
            ServiceKind::Login => "svc-login",
            ServiceKind::Riskbits => "svc-riskbits",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            ServiceKind::Gateway => 8080,
            ServiceKind::Auth => 8081,
            ServiceKind::Tenants => 8082,
            ServiceKind::Apps => 8083,
            ServiceKind::Users => 8084,
            ServiceKind::Login => 8085,
            ServiceKind::Riskbits => 8086,
        }
    }

    pub fn from_name(name: &str) -> Option<ServiceKind> {
        ServiceKind::SERVICES
            .into_iter()
            .chain([ServiceKind::Gateway])
            .find(|k| k.name() == name)
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binary())
    }
}

/// A secret string whose `Debug` and `Display` never print the value.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded mode keeps its SQLite files.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub cache: CacheSettings,
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    #[serde(default)]
    pub services: ServiceUrls,
    #[serde(default)]
    pub gateway: GatewaySettings,
    #[serde(default)]
    pub security: SecuritySettings,
    #[serde(default)]
    pub mail: MailSettings,
    /// Master admin created on first start (`IDP_BOOTSTRAP_ADMIN_USERNAME`).
    #[serde(default)]
    pub bootstrap_admin_username: Option<String>,
    /// Its password (`IDP_BOOTSTRAP_ADMIN_PASSWORD`); unset: no administrator is made (the
    /// all-in-one binary on embedded storage generates one instead).
    #[serde(default)]
    pub bootstrap_admin_password: Option<Secret>,
    /// Set by the all-in-one binary when it generated the password, so svc-users prints it
    /// once, when it is actually set. Never read from configuration.
    #[serde(skip)]
    pub bootstrap_admin_password_generated: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Listen address; unset: 127.0.0.1 and the kind's default port.
    pub bind: Option<String>,
    /// Public base URL clients see (issuer prefix); unset: `http://<gateway bind>`.
    pub public_url: Option<String>,
    /// Prefix every public route sits under, like Keycloak's `http-relative-path` (e.g. `/auth`).
    pub relative_path: String,
    /// actix worker threads; unset: one per core.
    pub workers: Option<usize>,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Largest JSON or form body a service accepts.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            bind: None,
            public_url: None,
            relative_path: String::new(),
            workers: None,
            shutdown_timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://...` or `sqlite://path`; unset: `<data_dir>/<service>.db`.
    pub url: Option<Secret>,
    /// Postgres schema; unset: `schema_prefix` + the service's name (auth, tenants, ...).
    /// Only for a process running one service.
    pub schema: Option<String>,
    /// Prefix of every service's schema, for deployments that share one database.
    pub schema_prefix: String,
    pub pool_max_size: u32,
    pub pool_min_idle: u32,
    /// How long a request waits for a pooled connection before it is answered 503.
    pub connection_timeout_ms: u64,
    pub idle_timeout_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            schema: None,
            schema_prefix: String::new(),
            pool_max_size: 10,
            pool_min_idle: 0,
            connection_timeout_ms: 2_000,
            idle_timeout_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// `memory` (in-process, the embedded default) or `redis://host:port/db`.
    pub url: Secret,
    /// Prefix of every key, so several deployments can share one Redis.
    pub prefix: String,
    /// Timeout of one Redis command.
    pub timeout_ms: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            url: Secret::new("memory"),
            prefix: "idp:".into(),
            timeout_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// JSON log lines (production) instead of human-readable ones.
    pub json_logs: bool,
    /// `tracing` filter directive; `RUST_LOG` overrides it.
    pub log_level: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            json_logs: false,
            log_level: "info".into(),
        }
    }
}

/// Base URLs of the services: the gateway proxies to them and services call each other's
/// `/internal` routes through them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceUrls {
    pub auth: String,
    pub tenants: String,
    pub apps: String,
    pub users: String,
    pub login: String,
    pub riskbits: String,
}

impl Default for ServiceUrls {
    fn default() -> Self {
        let url = |k: ServiceKind| format!("http://127.0.0.1:{}", k.default_port());
        ServiceUrls {
            auth: url(ServiceKind::Auth),
            tenants: url(ServiceKind::Tenants),
            apps: url(ServiceKind::Apps),
            users: url(ServiceKind::Users),
            login: url(ServiceKind::Login),
            riskbits: url(ServiceKind::Riskbits),
        }
    }
}

impl ServiceUrls {
    pub fn get(&self, kind: ServiceKind) -> Option<&str> {
        Some(match kind {
            ServiceKind::Auth => &self.auth,
            ServiceKind::Tenants => &self.tenants,
            ServiceKind::Apps => &self.apps,
            ServiceKind::Users => &self.users,
            ServiceKind::Login => &self.login,
            ServiceKind::Riskbits => &self.riskbits,
            ServiceKind::Gateway => return None,
        })
    }

    pub fn set(&mut self, kind: ServiceKind, url: String) {
        match kind {
            ServiceKind::Auth => self.auth = url,
            ServiceKind::Tenants => self.tenants = url,
            ServiceKind::Apps => self.apps = url,
            ServiceKind::Users => self.users = url,
            ServiceKind::Login => self.login = url,
            ServiceKind::Riskbits => self.riskbits = url,
            ServiceKind::Gateway => {}
        }
    }
}

/// One row of the gateway's route table: a path pattern and the service it goes to.
/// Patterns are matched segment by segment: `*` is one segment, a final `**` any rest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    pub pattern: String,
    pub service: String,
    /// Served without a bearer token (OIDC endpoints, login). Default: a token is required.
    #[serde(default)]
    pub public: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// Route table, first match wins; empty: the built-in table for every path of the API.
    pub routes: Vec<RouteRule>,
    /// Largest request body proxied (413 above it).
    pub max_body_bytes: u64,
    /// Time for an upstream to answer with its status line (504 after it).
    pub upstream_timeout_ms: u64,
    /// Time to connect to an upstream (502 after it).
    pub connect_timeout_ms: u64,
    /// Whether `/health/ready` of the gateway also asks every service. On Kubernetes set it
    /// false, so one unready service does not take every gateway pod out of rotation.
    pub readiness_checks_upstreams: bool,
    /// Addresses or CIDR ranges (`10.0.0.0/8`) of the proxies in front of the gateway (an
    /// Ingress controller, a load balancer). Only their X-Forwarded-For and -Proto are
    /// believed; anyone else's are ignored. Default: none. A list in a file, or one
    /// comma-separated string (`IDP_GATEWAY__TRUSTED_PROXIES=10.0.0.0/8,fd00::/8`).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
    /// Rate limits per client address, tenant and route group, shared through the cache.
    pub rate_limits: RateLimitSettings,
    /// Milliseconds a client may take to send its request head (408 after it).
    pub client_request_timeout_ms: u64,
}

/// A list from a config file, or a comma-separated string from an environment variable
/// (environment values stay strings, so secrets are never reinterpreted as numbers).
fn list_or_comma_separated<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    Ok(match ListOrText::deserialize(deserializer)? {
        ListOrText::List(items) => items,
        ListOrText::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// One limit: `per_minute` sustained, `burst` at once (GCRA).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// The token endpoints (OIDC token, introspection, revocation; FOLIO's /token).
    pub token: RateLimit,
    /// Logins: FOLIO's /authn, the authorization endpoint, magic links.
    pub login: RateLimit,
    /// The admin APIs (Keycloak's /admin, KOBIL's management routes, NEVIS).
    pub admin: RateLimit,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            token: RateLimit {
                per_minute: 1200,
                burst: 100,
            },
            login: RateLimit {
                per_minute: 120,
                burst: 20,
            },
            admin: RateLimit {
                per_minute: 1200,
                burst: 200,
            },
        }
    }
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            routes: Vec::new(),
            max_body_bytes: 10 * 1024 * 1024,
            upstream_timeout_ms: 30_000,
            connect_timeout_ms: 2_000,
            readiness_checks_upstreams: true,
            trusted_proxies: Vec::new(),
            rate_limits: RateLimitSettings::default(),
            client_request_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// Key that encrypts signing keys and client secrets at rest (32 bytes, base64).
    pub key_encryption_key: Option<Secret>,
    /// Credential services present on each other's `/internal` routes.
    pub service_token: Option<Secret>,
}

/// The platform's default outgoing mail server; tenants may configure their own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// SMTP host; unset: no default mail server.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    /// Sender address of platform mail.
    pub from: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_host: None,
            smtp_port: 25,
            from: "no-reply@localhost".into(),
        }
    }
}

/// Where a service's tables live, resolved from the settings for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Postgres { url: String, schema: String },
    Sqlite { path: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

impl Settings {
    /// Load defaults < `IDP_CONFIG` file < `IDP_*` environment.
    pub fn load() -> Result<Settings, SettingsError> {
        Self::load_from(std::env::vars().collect())
    }

    /// The same as [`Settings::load`] from a given environment (tests pass their own).
    pub fn load_from(env: HashMap<String, String>) -> Result<Settings, SettingsError> {
        let mut builder = Config::builder();
        if let Some(path) = env.get("IDP_CONFIG") {
            builder = builder.add_source(File::with_name(path).required(true));
        }
        // IDP_CONFIG names the file and IDP_TEST_* belong to the test harness: neither is a key.
        let keys: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("IDP_") && k != "IDP_CONFIG")
            .filter(|(k, _)| !k.starts_with("IDP_TEST_"))
            .collect();
        builder = builder.add_source(
            Environment::with_prefix("IDP")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(false)
                .source(Some(keys)),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Defaults only: what tests start from.
    pub fn for_test(data_dir: impl Into<PathBuf>) -> Settings {
        let mut s = Self::load_from(HashMap::new()).expect("built-in defaults are valid");
        s.data_dir = data_dir.into();
        s.http.workers = Some(1);
        s
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let rp = &self.http.relative_path;
        if !rp.is_empty() && (!rp.starts_with('/') || rp.ends_with('/')) {
            return Err(SettingsError::Invalid(format!(
                "http.relative_path must start with '/' and not end with one, got {rp:?}"
            )));
        }
        if let Some(schema) = &self.database.schema {
            check_identifier(schema)?;
        }
        if !self.database.schema_prefix.is_empty() {
            check_identifier(&format!("{}x", self.database.schema_prefix))?;
        }
        if self.database.pool_max_size == 0 {
            return Err(SettingsError::Invalid(
                "database.pool_max_size must be at least 1".into(),
            ));
        }
        for proxy in &self.gateway.trusted_proxies {
            if parse_network(proxy).is_none() {
                return Err(SettingsError::Invalid(format!(
                    "gateway.trusted_proxies: {proxy:?} is not an address or CIDR range"
                )));
            }
        }
        let limits = &self.gateway.rate_limits;
        for (name, limit) in [
            ("token", limits.token),
            ("login", limits.login),
            ("admin", limits.admin),
        ] {
            if limit.per_minute == 0 || limit.burst == 0 {
                return Err(SettingsError::Invalid(format!(
                    "gateway.rate_limits.{name}: per_minute and burst must be at least 1 (set enabled = false to turn limits off)"
                )));
            }
        }
        for rule in &self.gateway.routes {
            if ServiceKind::from_name(&rule.service).is_none_or(|k| k == ServiceKind::Gateway) {
                return Err(SettingsError::Invalid(format!(
                    "gateway.routes: unknown service {:?} (one of auth, tenants, apps, users, login, riskbits)",
                    rule.service
                )));
            }
            if !rule.pattern.starts_with('/') {
                return Err(SettingsError::Invalid(format!(
                    "gateway.routes: pattern {:?} must start with '/'",
                    rule.pattern
                )));
            }
        }
        Ok(())
    }

    /// The listen address of `kind` when it runs as its own process.
    pub fn bind_address(&self, kind: ServiceKind) -> String {
        self.http
            .bind
            .clone()
            .unwrap_or_else(|| format!("127.0.0.1:{}", kind.default_port()))
    }

    /// Where `kind` keeps its tables: the configured URL (Postgres: schema per service) or a
    /// SQLite file per service under `data_dir`.
    pub fn database_target(&self, kind: ServiceKind) -> Result<DatabaseTarget, SettingsError> {
        let schema = self
            .database
            .schema
            .clone()
            .unwrap_or_else(|| format!("{}{}", self.database.schema_prefix, kind.name()));
        match self.database.url.as_ref().map(Secret::expose) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(DatabaseTarget::Postgres {
                    url: url.to_owned(),
                    schema,
                })
            }
            Some(url) if url.starts_with("sqlite://") => {
                let path = PathBuf::from(&url["sqlite://".len()..]);
                // One file per service, even when a single URL is configured for all of them.
                let path = if path.extension().is_some() {
                    path
                } else {
                    path.join(format!("{}.db", kind.name()))
                };
                Ok(DatabaseTarget::Sqlite { path })
            }
            Some(_) => Err(SettingsError::Invalid(
                "database.url must start with postgres://, postgresql:// or sqlite://".into(),
            )),
            None => Ok(DatabaseTarget::Sqlite {
                path: self.data_dir.join(format!("{}.db", kind.name())),
            }),
        }
    }

    /// Public base URL, without a trailing slash, relative path included.
    pub fn public_url(&self) -> String {
        match &self.http.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!(
                "http://{}{}",
                self.bind_address(ServiceKind::Gateway),
                self.http.relative_path
            ),
        }
    }
}

/// Postgres identifiers we put into SQL text ourselves must be plain lower-case names.
/// An address or CIDR range: `10.1.2.3`, `10.0.0.0/8`, `::1`, `fd00::/8`.
pub fn parse_network(text: &str) -> Option<ipnet::IpNet> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
}

pub fn check_identifier(name: &str) -> Result<(), SettingsError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(SettingsError::Invalid(format!(
            "{name:?} is not a valid schema name (lower-case letters, digits, '_')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let s = Settings::load_from(HashMap::new()).unwrap();
        assert_eq!(s.cache.url.expose(), "memory");
        assert_eq!(s.bind_address(ServiceKind::Gateway), "127.0.0.1:8080");
        assert_eq!(
            s.database_target(ServiceKind::Users).unwrap(),
            DatabaseTarget::Sqlite {
                path: PathBuf::from("./data/users.db")
            }
        );
        assert!(s.gateway.routes.is_empty());
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = Settings::load_from(env(&[
            ("IDP_DATABASE__URL", "postgres://u@localhost/idp"),
            ("IDP_DATABASE__POOL_MAX_SIZE", "3"),
            ("IDP_HTTP__BIND", "0.0.0.0:9000"),
            ("IDP_BOOTSTRAP_ADMIN_USERNAME", "root"),
            ("IDP_TEST_DATABASE_URL", "ignored"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(s.database.pool_max_size, 3);
        assert_eq!(s.bind_address(ServiceKind::Auth), "0.0.0.0:9000");
        assert_eq!(s.bootstrap_admin_username.as_deref(), Some("root"));
        assert_eq!(
            s.database_target(ServiceKind::Login).unwrap(),
            DatabaseTarget::Postgres {
                url: "postgres://u@localhost/idp".into(),
                schema: "login".into()
            }
        );
    }

    #[test]
    fn gateway_edge_settings_come_from_the_environment() {
        let s = Settings::load_from(env(&[
            (
                "IDP_GATEWAY__TRUSTED_PROXIES",
                "10.0.0.0/8, fd00::/8,192.168.1.1",
            ),
            ("IDP_GATEWAY__RATE_LIMITS__ENABLED", "false"),
            ("IDP_GATEWAY__RATE_LIMITS__LOGIN__PER_MINUTE", "30"),
            ("IDP_GATEWAY__RATE_LIMITS__LOGIN__BURST", "5"),
        ]))
        .unwrap();
        assert_eq!(
            s.gateway.trusted_proxies,
            vec!["10.0.0.0/8", "fd00::/8", "192.168.1.1"]
        );
        assert!(!s.gateway.rate_limits.enabled);
        assert_eq!(
            s.gateway.rate_limits.login,
            RateLimit {
                per_minute: 30,
                burst: 5
            }
        );
        assert!(
            Settings::load_from(env(&[("IDP_GATEWAY__TRUSTED_PROXIES", "10.0.0.0/33")])).is_err()
        );
        assert!(
            Settings::load_from(env(&[
                ("IDP_GATEWAY__RATE_LIMITS__TOKEN__BURST", "0"),
                ("IDP_GATEWAY__RATE_LIMITS__TOKEN__PER_MINUTE", "5")
            ]))
            .is_err()
        );
    }

    #[test]
    fn unknown_keys_fail_at_start() {
        let err = Settings::load_from(env(&[("IDP_DATABASE__URLL", "x")])).unwrap_err();
        assert!(err.to_string().contains("urll"), "{err}");
        assert!(Settings::load_from(env(&[("IDP_NOPE", "1")])).is_err());
    }

    #[test]
    fn bad_values_are_rejected_with_the_key() {
        let err = Settings::load_from(env(&[("IDP_DATABASE__POOL_MAX_SIZE", "many")]));
        assert!(err.is_err());
        let err = Settings::load_from(env(&[("IDP_HTTP__RELATIVE_PATH", "auth/")])).unwrap_err();
        assert!(err.to_string().contains("relative_path"));
        let err = Settings::load_from(env(&[("IDP_DATABASE__SCHEMA", "x; drop")])).unwrap_err();
        assert!(err.to_string().contains("schema"));
        let s = Settings::load_from(env(&[("IDP_DATABASE__URL", "mysql://x")])).unwrap();
        assert!(s.database_target(ServiceKind::Auth).is_err());
    }

    #[test]
    fn config_file_sits_between_defaults_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idp.toml");
        std::fs::write(
            &path,
            "[http]\nbind = \"127.0.0.1:7000\"\nrelative_path = \"/auth\"\n\
             [[gateway.routes]]\npattern = \"/x/**\"\nservice = \"users\"\npublic = true\n",
        )
        .unwrap();
        let s = Settings::load_from(env(&[
            ("IDP_CONFIG", path.to_str().unwrap()),
            ("IDP_HTTP__BIND", "127.0.0.1:7001"),
        ]))
        .unwrap();
        assert_eq!(s.http.bind.as_deref(), Some("127.0.0.1:7001"));
        assert_eq!(s.http.relative_path, "/auth");
        assert_eq!(s.gateway.routes.len(), 1);
        assert!(s.gateway.routes[0].public);
        assert_eq!(s.public_url(), "http://127.0.0.1:7001/auth");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}
