//! The gateway's route table: tenant-prefixed path patterns -> the service that owns them.
//! Patterns are matched segment by segment, first match wins: `*` is one segment, a final `**`
//! any rest (also none). `/internal/...` is never routed: it is for service-to-service calls.

use idp_shared::ServiceKind;
use idp_shared::config::RouteRule;

/// Paths served without a bearer token: the OIDC endpoints, the realm's public info, FOLIO's
/// login (it authenticates with the password), FOLIO's refresh and invalidate (the refresh
/// token is the credential) and magic links. FOLIO's `/token/sign` mints a token for any
/// subject, so it and the rest of the token API stay behind the bearer check.
const PUBLIC: &[&str] = &[
    "/realms/*/.well-known/**",
    "/realms/*/protocol/**",
    "/realms/*/kobil-magic-link/**",
    "/authn/**",
    "/token/refresh",
    "/token/invalidate",
    "/realms/*",
];

/// The built-in table: every path group of `shared/spec/API.md`, most specific first.
pub const DEFAULT_ROUTES: &[(&str, ServiceKind)] = &[
    // svc-auth: OIDC, FOLIO tokens, magic links, key rotation
    ("/realms/*/.well-known/**", ServiceKind::Auth),
    ("/realms/*/protocol/**", ServiceKind::Auth),
    ("/realms/*/kobil-magic-link/**", ServiceKind::Auth),
    ("/admin/realms/*/keys/**", ServiceKind::Auth),
    ("/token/refresh", ServiceKind::Auth),
    ("/token/invalidate", ServiceKind::Auth),
    ("/token/**", ServiceKind::Auth),
    ("/refreshtoken", ServiceKind::Auth),
    // svc-login: FOLIO authn, attack detection, NEVIS credentials, resend-OTP lockout
    ("/authn/**", ServiceKind::Login),
    ("/admin/realms/*/attack-detection/**", ServiceKind::Login),
    ("/nevisidm/**", ServiceKind::Login),
    ("/realms/*/v3_user/otp-brute-force", ServiceKind::Login),
    ("/realms/*/v3_user/*/otp-brute-force", ServiceKind::Login),
    // svc-users
    ("/admin/realms/*/users/**", ServiceKind::Users),
    ("/admin/realms/*/groups/**", ServiceKind::Users),
    ("/admin/realms/*/group-by-path/**", ServiceKind::Users),
    ("/realms/*/v3_user/**", ServiceKind::Users),
    ("/realms/*/v3_client/groups/*/users", ServiceKind::Users),
    ("/realms/*/v3_client/*/*/users", ServiceKind::Users),
    ("/realms/*/v3_role/*/users", ServiceKind::Users),
    ("/realms/*/address/**", ServiceKind::Users),
    ("/realms/*/mail/send/**", ServiceKind::Users),
    ("/realms/*/user-security-resources/**", ServiceKind::Users),
    // svc-tenants
    ("/admin/realms", ServiceKind::Tenants),
    ("/admin/realms/*", ServiceKind::Tenants),
    ("/admin/realms/*/push-revocation", ServiceKind::Tenants),
    ("/admin/realms/*/logout-all", ServiceKind::Tenants),
    ("/admin/realms/*/roles/**", ServiceKind::Tenants),
    ("/admin/realms/*/roles-by-id/**", ServiceKind::Tenants),
    ("/realms/*/v4_realm/**", ServiceKind::Tenants),
    ("/realms/*/v3_realm/**", ServiceKind::Tenants),
    ("/realms/*/v3_role/**", ServiceKind::Tenants),
    ("/realms/*/mail/**", ServiceKind::Tenants),
    // svc-apps
    ("/admin/realms/*/clients/**", ServiceKind::Apps),
    ("/realms/*/v3_client/**", ServiceKind::Apps),
    // svc-riskbits
    ("/realms/*/kobilriskbits/**", ServiceKind::Riskbits),
    // svc-auth: the realm's public info (`GET /realms/{t}`), after every longer pattern
    ("/realms/*", ServiceKind::Auth),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    Rest,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    segments: Vec<Segment>,
    service: ServiceKind,
    public: bool,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    rules: Vec<Rule>,
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub pattern: &'a str,
    pub service: ServiceKind,
    /// Served without a bearer token.
    pub public: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Resolution<'a> {
    Routed(Route<'a>),
    /// No rule matches, or the path is for internal use only.
    NotFound,
    /// `.`/`..` or empty segments: refused rather than guessed at.
    Malformed,
}

impl RouteTable {
    /// The configured table, or the built-in one when the configuration lists none.
    pub fn from_config(rules: &[RouteRule]) -> Result<RouteTable, String> {
        if rules.is_empty() {
            return Ok(Self::defaults());
        }
        let rules = rules
            .iter()
            .map(|r| {
                let service = ServiceKind::from_name(&r.service)
                    .filter(|k| *k != ServiceKind::Gateway)
                    .ok_or_else(|| format!("unknown service {:?}", r.service))?;
                Rule::parse(&r.pattern, service, r.public)
            })
            .collect::<Result<_, _>>()?;
        Ok(RouteTable { rules })
    }

    pub fn defaults() -> RouteTable {
        RouteTable {
            rules: DEFAULT_ROUTES
                .iter()
                .map(|(p, s)| {
                    Rule::parse(p, *s, PUBLIC.contains(p)).expect("built-in patterns are valid")
                })
                .collect(),
        }
    }

    pub fn resolve(&self, path: &str) -> Resolution<'_> {
        let Some(rest) = path.strip_prefix('/') else {
            return Resolution::Malformed;
        };
        let segments: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        // A trailing slash is tolerated (KOBIL's `/v4_realm/`); anything else odd is refused.
        let segments = match segments.split_last() {
            Some((&"", init)) => init.to_vec(),
            _ => segments,
        };
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == ".." || is_encoded_dot_or_slash(s))
        {
            return Resolution::Malformed;
        }
        if segments.first() == Some(&"internal") {
            return Resolution::NotFound;
        }
        self.rules
            .iter()
            .find(|r| r.matches(&segments))
            .map_or(Resolution::NotFound, |r| {
                Resolution::Routed(Route {
                    pattern: &r.pattern,
                    service: r.service,
                    public: r.public,
                })
            })
    }
}

/// The tenants whose tokens a protected path accepts: the tenant it names
/// (`/realms/{t}/..`, `/admin/realms/{t}/..`, NEVIS' `/nevisidm/api/core/v1/{t}/..`, or
/// FOLIO's `X-Okapi-Tenant` header for paths that name none) and `master`, whose admins
/// manage every tenant. The service checks the token again, with the same rule.
pub fn accepted_tenants<'a>(path: &'a str, okapi_tenant: Option<&'a str>) -> Vec<&'a str> {
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(6, '/').collect();
    let named = match segments.as_slice() {
        ["realms", t, ..] => Some(*t),
        ["admin", "realms", t, ..] => Some(*t),
        ["nevisidm", "api", "core", "v1", t, ..] => Some(*t),
        _ => okapi_tenant,
    };
    match named {
        Some(t) if !t.is_empty() && t != "master" => vec![t, "master"],
        _ => vec!["master"],
    }
}

/// `%2e`, `%2f` and `%5c` would let a path mean one thing here and another upstream.
fn is_encoded_dot_or_slash(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower.contains("%2f")
        || lower.contains("%5c")
        || lower == "%2e"
        || lower.contains("%2e%2e")
        || lower == ".%2e"
        || lower == "%2e."
}

impl Rule {
    fn parse(pattern: &str, service: ServiceKind, public: bool) -> Result<Rule, String> {
        let body = pattern
            .strip_prefix('/')
            .ok_or_else(|| format!("pattern {pattern:?} must start with '/'"))?;
        let parts: Vec<&str> = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').collect()
        };
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            segments.push(match *part {
                "**" if i + 1 == parts.len() => Segment::Rest,
                "**" => return Err(format!("pattern {pattern:?}: '**' only at the end")),
                "*" => Segment::One,
                "" => return Err(format!("pattern {pattern:?} has an empty segment")),
                lit => Segment::Literal(lit.to_owned()),
            });
        }
        Ok(Rule {
            pattern: pattern.to_owned(),
            segments,
            service,
            public,
        })
    }

    fn matches(&self, path: &[&str]) -> bool {
        let mut i = 0;
        for seg in &self.segments {
            match seg {
                Segment::Rest => return true,
                Segment::One if i < path.len() => i += 1,
                Segment::Literal(l) if i < path.len() && path[i] == l => i += 1,
                _ => return false,
            }
        }
        i == path.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(path: &str) -> Option<ServiceKind> {
        match RouteTable::defaults().resolve(path) {
            Resolution::Routed(r) => Some(r.service),
            _ => None,
        }
    }

    #[test]
    fn every_path_group_of_the_api_reaches_its_service() {
        use ServiceKind::*;
        let cases = [
            ("/realms/acme/.well-known/openid-configuration", Auth),
            ("/realms/acme/protocol/openid-connect/token", Auth),
            ("/realms/acme/protocol/openid-connect/certs", Auth),
            ("/realms/acme", Auth),
            ("/token/sign", Auth),
            ("/token", Auth),
            ("/refreshtoken", Auth),
            ("/realms/acme/kobil-magic-link/access-link", Auth),
            ("/admin/realms", Tenants),
            ("/admin/realms/acme", Tenants),
            ("/admin/realms/acme/roles/admin/users", Tenants),
            ("/realms/master/v4_realm/", Tenants),
            ("/realms/master/v4_realm/acme", Tenants),
            ("/realms/master/v3_realm/acme", Tenants),
            ("/realms/acme/v4_realm/status", Tenants),
            ("/realms/acme/v3_realm/settings", Tenants),
            ("/realms/acme/v3_role/viewer", Tenants),
            ("/realms/acme/mail/setup", Tenants),
            ("/realms/acme/mail/test", Tenants),
            ("/admin/realms/acme/clients", Apps),
            ("/admin/realms/acme/clients/123/client-secret", Apps),
            ("/realms/acme/v3_client", Apps),
            ("/realms/acme/v3_client/secret/web", Apps),
            ("/realms/acme/v3_client/uma", Apps),
            ("/admin/realms/acme/users", Users),
            ("/admin/realms/acme/users/count", Users),
            ("/admin/realms/acme/groups/g1/members", Users),
            ("/realms/acme/v3_user", Users),
            ("/realms/acme/v3_user/getusers/", Users),
            ("/realms/acme/v3_client/web/viewer/users", Users),
            ("/realms/acme/v3_client/groups/g1/users", Users),
            ("/realms/acme/v3_role/viewer/users", Users),
            ("/realms/acme/address/bob", Users),
            ("/realms/acme/mail/send/bob", Users),
            ("/realms/acme/user-security-resources/users", Users),
            ("/authn/login", Login),
            ("/authn/log/events/1", Login),
            (
                "/admin/realms/acme/attack-detection/brute-force/users/1",
                Login,
            ),
            ("/nevisidm/api/core/v1/c1/users/u1/credentials", Login),
            ("/realms/acme/v3_user/bob/otp-brute-force", Login),
            ("/realms/acme/v3_user/otp-brute-force", Login),
            ("/realms/acme/kobilriskbits/resources-auth/verify", Riskbits),
        ];
        for (path, want) in cases {
            assert_eq!(service(path), Some(want), "{path}");
        }
    }

    #[test]
    fn only_oidc_login_and_token_paths_are_public() {
        let table = RouteTable::defaults();
        let public = |path: &str| match table.resolve(path) {
            Resolution::Routed(r) => r.public,
            other => panic!("{path}: {other:?}"),
        };
        for path in [
            "/realms/acme/.well-known/openid-configuration",
            "/realms/acme/protocol/openid-connect/token",
            "/realms/acme",
            "/authn/login",
            "/token/refresh",
            "/token/invalidate",
        ] {
            assert!(public(path), "{path}");
        }
        for path in [
            "/admin/realms",
            "/admin/realms/acme/users",
            "/realms/acme/v3_user",
            "/realms/master/v4_realm/",
            "/realms/acme/kobilriskbits/resources-auth/verify",
            "/nevisidm/api/core/v1/c/users/u/credentials",
            "/token/sign",
            "/token/invalidate-all",
            "/token",
            "/refreshtoken",
        ] {
            assert!(!public(path), "{path}");
        }
    }

    /// The tenants whose tokens a path accepts: its own and `master` (which administers all).
    #[test]
    fn token_tenants_come_from_the_path() {
        assert_eq!(
            accepted_tenants("/admin/realms/acme/users", None),
            vec!["acme", "master"]
        );
        assert_eq!(
            accepted_tenants("/realms/acme/v3_user", Some("other")),
            vec!["acme", "master"],
            "the path's tenant wins over the header"
        );
        assert_eq!(
            accepted_tenants("/realms/master/v4_realm/", None),
            vec!["master"]
        );
        assert_eq!(accepted_tenants("/admin/realms", None), vec!["master"]);
        assert_eq!(accepted_tenants("/nevisidm/api/x", None), vec!["master"]);
        assert_eq!(
            accepted_tenants("/nevisidm/api/core/v1/acme/users/u/credentials", None),
            vec!["acme", "master"]
        );
        assert_eq!(
            accepted_tenants("/token/sign", Some("acme")),
            vec!["acme", "master"]
        );
        assert_eq!(accepted_tenants("/token/sign", None), vec!["master"]);
    }

    #[test]
    fn internal_unknown_and_odd_paths_are_not_routed() {
        let table = RouteTable::defaults();
        assert_eq!(table.resolve("/internal/users/x"), Resolution::NotFound);
        assert_eq!(table.resolve("/"), Resolution::NotFound);
        assert_eq!(table.resolve("/nothing/here"), Resolution::NotFound);
        assert_eq!(
            table.resolve("/realms/a/../../internal/x"),
            Resolution::Malformed
        );
        assert_eq!(table.resolve("/realms//protocol"), Resolution::Malformed);
        assert_eq!(table.resolve("/realms/a/%2e%2e/x"), Resolution::Malformed);
        assert_eq!(
            table.resolve("/realms/a%2Fb/protocol/x"),
            Resolution::Malformed
        );
    }

    #[test]
    fn configured_tables_replace_the_defaults_and_are_checked() {
        let table = RouteTable::from_config(&[RouteRule {
            pattern: "/x/*/y/**".into(),
            service: "riskbits".into(),
            public: false,
        }])
        .unwrap();
        assert!(matches!(table.resolve("/x/1/y"), Resolution::Routed(_)));
        assert!(matches!(table.resolve("/x/1/y/2/3"), Resolution::Routed(_)));
        assert_eq!(table.resolve("/realms/acme"), Resolution::NotFound);
        let bad = |p: &str, s: &str| {
            RouteTable::from_config(&[RouteRule {
                pattern: p.into(),
                service: s.into(),
                public: false,
            }])
        };
        assert!(bad("/a/**/b", "users").is_err());
        assert!(bad("/a", "gateway").is_err());
        assert!(bad("a", "users").is_err());
    }
}
