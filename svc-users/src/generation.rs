//! The generation of a tenant's user data (`idp_shared::cache_keys::user_generation_key`):
//! every request that may change users, groups or role mappings gives its tenant a new one
//! before the reply leaves, so svc-auth never uses a copy of a user read before the change.
//! Done for every route at once, so a route added later cannot forget it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use idp_shared::cache_keys::{USER_GENERATION_TTL, user_generation_key};
use idp_shared::security::random_token;

use crate::State;

/// After any request but GET/HEAD on a tenant's path (whatever its outcome: a failure may
/// still have changed something), the tenant's generation is renewed.
pub async fn renew_after_change(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let tenant = (!matches!(*req.method(), Method::GET | Method::HEAD))
        .then(|| tenant_of(req.path()))
        .flatten()
        .map(str::to_owned);
    let state = req.app_data::<web::Data<State>>().cloned();
    let reply = next.call(req).await;
    if let (Some(tenant), Some(state)) = (tenant, state) {
        let fresh = random_token(12);
        if let Err(e) = state
            .ctx
            .cache
            .set(
                &user_generation_key(&tenant),
                fresh.as_bytes(),
                USER_GENERATION_TTL,
            )
            .await
        {
            // svc-auth's copies of this tenant's users may be used until they expire (60 s).
            tracing::warn!(tenant = %tenant, error = %e, "user data generation not renewed");
        }
    }
    reply
}

/// The tenant of a svc-users path: the segment after `realms/` (admin, internal and KOBIL
/// routes all name it so).
fn tenant_of(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    segments.find(|s| *s == "realms")?;
    segments.next().filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::tenant_of;

    #[test]
    fn the_tenant_is_the_segment_after_realms() {
        assert_eq!(tenant_of("/admin/realms/acme/users/1"), Some("acme"));
        assert_eq!(tenant_of("/internal/realms/acme"), Some("acme"));
        assert_eq!(tenant_of("/realms/acme/v3_user"), Some("acme"));
        assert_eq!(tenant_of("/realms/"), None);
        assert_eq!(tenant_of("/health/ready"), None);
    }
}
