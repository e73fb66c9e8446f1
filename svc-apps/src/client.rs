//! The client representation: Keycloak's field names and defaults, and the clients every
//! tenant starts with.

use serde_json::{Map, Value, json};

use crate::store::{App, AppRow, RoleRow};

/// `realm-management`'s roles, which grant the admin API (Keycloak's names).
pub const REALM_MANAGEMENT_ROLES: [&str; 19] = [
    "create-client",
    "impersonation",
    "manage-authorization",
    "manage-clients",
    "manage-events",
    "manage-identity-providers",
    "manage-realm",
    "manage-users",
    "query-clients",
    "query-groups",
    "query-realms",
    "query-users",
    "realm-admin",
    "view-authorization",
    "view-clients",
    "view-events",
    "view-identity-providers",
    "view-realm",
    "view-users",
];

pub const ADMIN_CLI: &str = "admin-cli";
pub const REALM_MANAGEMENT: &str = "realm-management";

/// The boolean switches kept in columns, with Keycloak's defaults for a new client.
pub struct Switches {
    pub enabled: bool,
    pub public_client: bool,
    pub bearer_only: bool,
    pub standard_flow_enabled: bool,
    pub implicit_flow_enabled: bool,
    pub direct_access_grants_enabled: bool,
    pub service_accounts_enabled: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            enabled: true,
            public_client: false,
            bearer_only: false,
            standard_flow_enabled: true,
            implicit_flow_enabled: false,
            direct_access_grants_enabled: false,
            service_accounts_enabled: false,
        }
    }
}

/// A new app with no children but its roles.
pub fn new_app(
    tenant: &str,
    client_id: &str,
    switches: Switches,
    attributes: Map<String, Value>,
    role_names: &[&str],
    now: i64,
) -> App {
    let id = uuid::Uuid::new_v4().to_string();
    App {
        roles: role_names
            .iter()
            .map(|name| RoleRow {
                id: uuid::Uuid::new_v4().to_string(),
                app_id: id.clone(),
                name: (*name).to_owned(),
                description: Some(format!("${{role_{name}}}")),
                attributes: "{}".to_owned(),
            })
            .collect(),
        row: AppRow {
            id,
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            enabled: switches.enabled,
            public_client: switches.public_client,
            bearer_only: switches.bearer_only,
            standard_flow_enabled: switches.standard_flow_enabled,
            implicit_flow_enabled: switches.implicit_flow_enabled,
            direct_access_grants_enabled: switches.direct_access_grants_enabled,
            service_accounts_enabled: switches.service_accounts_enabled,
            secret_sealed: None,
            created_at: now,
            updated_at: now,
        },
        redirect_uris: Vec::new(),
        web_origins: Vec::new(),
        attributes,
    }
}

/// The clients Keycloak gives every realm: `admin-cli` (public, password grant, what admin
/// tools log in with) and `realm-management` (bearer-only, holder of the admin roles).
pub fn default_clients(tenant: &str, now: i64) -> Vec<App> {
    let name = |n: &str| {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(format!("${{client_{n}}}")));
        m
    };
    vec![
        new_app(
            tenant,
            ADMIN_CLI,
            Switches {
                public_client: true,
                standard_flow_enabled: false,
                direct_access_grants_enabled: true,
                ..Switches::default()
            },
            name(ADMIN_CLI),
            &[],
            now,
        ),
        new_app(
            tenant,
            REALM_MANAGEMENT,
            Switches {
                bearer_only: true,
                standard_flow_enabled: true,
                ..Switches::default()
            },
            name(REALM_MANAGEMENT),
            &REALM_MANAGEMENT_ROLES,
            now,
        ),
    ]
}

/// Keycloak's representation of fields we do not keep in columns.
pub fn defaults() -> Map<String, Value> {
    match json!({
        "name": null,
        "description": null,
        "rootUrl": null,
        "adminUrl": null,
        "baseUrl": null,
        "surrogateAuthRequired": false,
        "alwaysDisplayInConsole": false,
        "clientAuthenticatorType": "client-secret",
        "notBefore": 0,
        "consentRequired": false,
        "frontchannelLogout": true,
        "protocol": "openid-connect",
        "attributes": {},
        "authenticationFlowBindingOverrides": {},
        "fullScopeAllowed": true,
        "nodeReRegistrationTimeout": -1,
        "protocolMappers": [],
        "defaultClientScopes": ["web-origins", "acr", "profile", "roles", "basic", "email"],
        "optionalClientScopes": ["address", "phone", "offline_access", "microprofile-jwt"],
    }) {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

/// The client representation (never with the secret: that has its own admin route).
pub fn representation(app: &App) -> Value {
    let r = &app.row;
    let mut rep = defaults();
    rep.extend(app.attributes.clone());
    for (key, value) in [
        ("id", json!(r.id)),
        ("clientId", json!(r.client_id)),
        ("enabled", json!(r.enabled)),
        ("publicClient", json!(r.public_client)),
        ("bearerOnly", json!(r.bearer_only)),
        ("standardFlowEnabled", json!(r.standard_flow_enabled)),
        ("implicitFlowEnabled", json!(r.implicit_flow_enabled)),
        (
            "directAccessGrantsEnabled",
            json!(r.direct_access_grants_enabled),
        ),
        ("serviceAccountsEnabled", json!(r.service_accounts_enabled)),
        ("redirectUris", json!(app.redirect_uris)),
        ("webOrigins", json!(app.web_origins)),
    ] {
        rep.insert(key.to_owned(), value);
    }
    Value::Object(rep)
}

/// Keycloak's role representation of a client role; `brief` leaves out the attributes, as
/// Keycloak's role lists do by default.
pub fn role_representation(role: &RoleRow, brief: bool) -> Value {
    let mut rep = Map::new();
    rep.insert("id".into(), json!(role.id));
    rep.insert("name".into(), json!(role.name));
    // Keycloak leaves null fields out of its replies.
    if let Some(d) = &role.description {
        rep.insert("description".into(), json!(d));
    }
    rep.insert("composite".into(), json!(false));
    rep.insert("clientRole".into(), json!(true));
    rep.insert("containerId".into(), json!(role.app_id));
    if !brief {
        let attributes: Value =
            serde_json::from_str(&role.attributes).unwrap_or_else(|_| json!({}));
        rep.insert("attributes".into(), attributes);
    }
    Value::Object(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_clients_are_keycloaks() {
        let clients = default_clients("acme", 5);
        let cli = &clients[0];
        assert_eq!(cli.row.client_id, "admin-cli");
        assert!(cli.row.public_client && cli.row.direct_access_grants_enabled);
        assert!(!cli.row.standard_flow_enabled && cli.row.secret_sealed.is_none());
        let rm = &clients[1];
        assert_eq!(rm.row.client_id, "realm-management");
        assert!(rm.row.bearer_only);
        let roles: Vec<&str> = rm.roles.iter().map(|r| r.name.as_str()).collect();
        assert!(roles.contains(&"realm-admin") && roles.contains(&"manage-users"));
        assert!(rm.roles.iter().all(|r| r.app_id == rm.row.id));
    }

    #[test]
    fn the_representation_has_keycloaks_fields_and_no_secret() {
        let mut app = default_clients("acme", 5).remove(0);
        app.row.secret_sealed = Some("v1:sealed".into());
        let rep = representation(&app);
        assert_eq!(rep["clientId"], "admin-cli");
        assert_eq!(rep["publicClient"], true);
        assert_eq!(rep["protocol"], "openid-connect");
        assert_eq!(rep["name"], "${client_admin-cli}");
        assert!(rep.get("secret").is_none() && !rep.to_string().contains("sealed"));
    }
}
