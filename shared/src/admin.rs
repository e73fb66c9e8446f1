//! Who may call an administrative route: the services verify the bearer token again (the
//! gateway's check is not trusted) and decide with Keycloak's rules.
//!
//! A token of tenant `t` administers `t` when it carries the realm role `admin` or
//! `realm-admin`, or `realm-management` client roles (`realm-admin` holds all of them; a
//! `manage-*` role holds its `view-*`). A token of `master` with the realm role `admin`
//! administers every tenant.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};

use crate::bearer::{BearerVerifier, Principal, bearer_token};
use crate::error::{ErrorInfo, Shape, render};

/// The tenant that administers all others.
pub const MASTER: &str = "master";
/// The bearer-only client whose roles grant admin rights in a tenant.
pub const REALM_MANAGEMENT: &str = "realm-management";
/// Realm roles that make a user an administrator of their tenant.
pub const ADMIN_REALM_ROLES: [&str; 2] = ["admin", "realm-admin"];

/// One admin right, named after the `realm-management` role that grants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ViewRealm,
    ManageRealm,
    ViewUsers,
    ManageUsers,
    ViewClients,
    ManageClients,
    ViewEvents,
    ManageEvents,
}

impl Permission {
    /// The roles of which any one grants this right.
    fn granted_by(self) -> &'static [&'static str] {
        match self {
            Permission::ViewRealm => &["view-realm", "manage-realm", "realm-admin"],
            Permission::ManageRealm => &["manage-realm", "realm-admin"],
            Permission::ViewUsers => &["view-users", "manage-users", "query-users", "realm-admin"],
            Permission::ManageUsers => &["manage-users", "realm-admin"],
            Permission::ViewClients => &[
                "view-clients",
                "manage-clients",
                "query-clients",
                "realm-admin",
            ],
            Permission::ManageClients => &["manage-clients", "realm-admin"],
            Permission::ViewEvents => &["view-events", "manage-events", "realm-admin"],
            Permission::ManageEvents => &["manage-events", "realm-admin"],
        }
    }
}

/// The error shape a service answers in, registered by `ServiceContext::configure_common`.
#[derive(Debug, Clone, Copy)]
pub struct ErrorShape(pub Shape);

/// A refused caller, rendered in the service's shape.
#[derive(Debug)]
pub struct Rejection {
    pub shape: Shape,
    pub info: ErrorInfo,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.info.message)
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        self.info.status
    }
    fn error_response(&self) -> HttpResponse {
        render(self.shape, &self.info)
    }
}

/// The error for a caller who is known but lacks the right.
pub fn forbidden() -> ErrorInfo {
    ErrorInfo::new(
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "the token does not allow this operation",
    )
}

/// Extractor: the verified bearer token of the request. Tokens of the path's tenant
/// (`{realm}` or NEVIS' `{clientExtId}`, else the `X-Okapi-Tenant` header) and of `master`
/// are accepted.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
}

impl Caller {
    /// Whether this caller holds `permission` in `tenant`.
    pub fn may(&self, tenant: &str, permission: Permission) -> bool {
        let p = &self.principal;
        let realm_admin = p
            .realm_roles
            .iter()
            .any(|r| ADMIN_REALM_ROLES.contains(&r.as_str()));
        if p.tenant == MASTER && p.realm_roles.iter().any(|r| r == "admin") {
            return true;
        }
        if p.tenant != tenant {
            return false;
        }
        realm_admin
            || p.client_roles.get(REALM_MANAGEMENT).is_some_and(|roles| {
                roles
                    .iter()
                    .any(|r| permission.granted_by().contains(&r.as_str()))
            })
    }

    /// 403 unless this caller holds `permission` in `tenant`.
    pub fn require(&self, tenant: &str, permission: Permission) -> Result<(), ErrorInfo> {
        if self.may(tenant, permission) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// An administrator of `master` (who may create and delete tenants).
    pub fn is_master_admin(&self) -> bool {
        self.may(MASTER, Permission::ManageRealm)
    }

    /// The caller is the user `user_id` of `tenant` (self-service routes).
    pub fn is_user(&self, tenant: &str, user_id: &str) -> bool {
        self.principal.tenant == tenant && self.principal.subject == user_id
    }
}

impl FromRequest for Caller {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // Keycloak's admin API answers in its own shape whatever the service's default.
            let shape = if req.path().contains("/admin/realms") {
                Shape::Keycloak
            } else {
                req.app_data::<web::Data<ErrorShape>>()
                    .map(|s| s.0)
                    .unwrap_or(Shape::Plain)
            };
            let reject = |info: ErrorInfo| Rejection { shape, info };
            let Some(verifier) = req.app_data::<web::Data<BearerVerifier>>() else {
                return Err(reject(ErrorInfo::internal(
                    &"no bearer verifier registered",
                )));
            };
            let token = bearer_token(req.headers()).map_err(|e| reject(e.info()))?;
            let tenant = req
                .match_info()
                .get("realm")
                .or_else(|| req.match_info().get("clientExtId"))
                .map(str::to_owned)
                .or_else(|| {
                    req.headers()
                        .get("x-okapi-tenant")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                });
            let mut tenants = vec![MASTER];
            if let Some(t) = tenant.as_deref().filter(|t| *t != MASTER) {
                tenants.insert(0, t);
            }
            let now = crate::names::now_millis() / 1000;
            let principal = verifier
                .verify(token, &tenants, now)
                .await
                .map_err(|e| reject(e.info()))?;
            Ok(Caller { principal })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn caller(tenant: &str, realm_roles: &[&str], management: &[&str]) -> Caller {
        let mut client_roles = HashMap::new();
        client_roles.insert(
            REALM_MANAGEMENT.to_owned(),
            management.iter().map(|r| r.to_string()).collect(),
        );
        Caller {
            principal: Principal {
                tenant: tenant.into(),
                subject: "u1".into(),
                client_id: Some("admin-cli".into()),
                username: Some("someone".into()),
                realm_roles: realm_roles.iter().map(|r| r.to_string()).collect(),
                client_roles,
                session_id: None,
                token_id: None,
                expires_at: 0,
                scope: String::new(),
            },
        }
    }

    #[test]
    fn master_admins_administer_every_tenant() {
        let admin = caller(MASTER, &["admin"], &[]);
        assert!(admin.may("acme", Permission::ManageUsers));
        assert!(admin.is_master_admin());
    }

    #[test]
    fn tenant_admins_administer_only_their_tenant() {
        let admin = caller("acme", &["realm-admin"], &[]);
        assert!(admin.may("acme", Permission::ManageClients));
        assert!(!admin.may("other", Permission::ViewUsers));
        assert!(!admin.is_master_admin());
        // A master token without `admin` is not a master admin.
        assert!(!caller(MASTER, &["offline_access"], &[]).may("acme", Permission::ViewUsers));
    }

    #[test]
    fn management_roles_grant_what_keycloak_grants() {
        let viewer = caller("acme", &[], &["view-users"]);
        assert!(viewer.may("acme", Permission::ViewUsers));
        assert!(!viewer.may("acme", Permission::ManageUsers));
        assert!(!viewer.may("acme", Permission::ViewClients));
        let manager = caller("acme", &[], &["manage-clients"]);
        assert!(manager.may("acme", Permission::ViewClients));
        assert!(manager.require("acme", Permission::ManageRealm).is_err());
        assert_eq!(
            caller("acme", &[], &[])
                .require("acme", Permission::ViewRealm)
                .unwrap_err()
                .status,
            StatusCode::FORBIDDEN
        );
    }
}
