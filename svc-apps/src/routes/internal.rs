//! `/internal/realms/{t}/...`: what other services need of apps (never proxied by the gateway;
//! the caller presents the service token).

use actix_web::{HttpResponse, web};
use idp_shared::error::Plain;
use idp_shared::names::{check_tenant_name, now_millis};
use idp_shared::security::InternalCaller;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::{State, client, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/internal/realms/{realm}/default-clients",
        web::post().to(ensure_default_clients),
    )
    .route(
        "/internal/realms/{realm}/clients/{client_id}",
        web::get().to(client_for_token_endpoint),
    )
    .route(
        "/internal/realms/{realm}/clients/{client_id}/secret",
        web::post().to(renew_secret),
    )
    .route(
        "/internal/realms/{realm}/apps/{id}",
        web::get().to(client_by_id),
    )
    .route("/internal/realms/{realm}/apps", web::post().to(create_app))
    .route(
        "/internal/realms/{realm}/web-origins",
        web::get().to(web_origins),
    )
    .route("/internal/realms/{realm}", web::delete().to(delete_tenant));
}

/// What another service learns of a client: the representation, its role names, and only a
/// SHA-256 of its secret.
fn internal_view(state: &State, app: &store::App) -> Result<serde_json::Value, Error> {
    let secret_sha256 = crate::apps::secret_of(state, app)?.map(|s| hex::encode(Sha256::digest(s)));
    let roles: Vec<&str> = app.roles.iter().map(|r| r.name.as_str()).collect();
    Ok(json!({
        "client": client::representation(app),
        "roles": roles,
        "secretSha256": secret_sha256,
    }))
}

/// The same as the lookup by client id, by the app's internal id.
async fn client_by_id(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, id) = path.into_inner();
    let app = crate::apps::find(&state, &realm, &id).await?;
    Ok(HttpResponse::Ok().json(internal_view(&state, &app)?))
}

/// Creates an app from a client representation (tenant creation's default app). The reply
/// carries the secret once: `{id, clientId, secret}`; 409 if the client id is taken.
async fn create_app(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    check_tenant_name(&realm).map_err(Error::Invalid)?;
    let serde_json::Value::Object(fields) = body.into_inner() else {
        return Err(Error::Invalid("the client must be a JSON object".into()).into());
    };
    let created = crate::apps::create(&state, &realm, &fields).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": created.app.row.id,
        "clientId": created.app.row.client_id,
        "secret": created.secret,
    })))
}

/// Gives a confidential client a new secret: `{id, clientId, secret}`.
async fn renew_secret(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, client_id) = path.into_inner();
    let app = crate::apps::find_by_client_id(&state, &realm, &client_id).await?;
    let secret = crate::apps::regenerate_secret(&state, &realm, &app).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": app.row.id,
        "clientId": app.row.client_id,
        "secret": secret,
    })))
}

/// Removes every app of the tenant (tenant deletion); 204 also when there were none.
async fn delete_tenant(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    let removed = crate::apps::delete_tenant(&state, &realm).await?;
    tracing::info!(tenant = %realm, apps = removed, "removed a tenant's apps");
    Ok(HttpResponse::NoContent().finish())
}

/// A client as the token endpoint needs it: the representation, its role names, and only a
/// SHA-256 of its secret, so svc-auth can check a presented secret in constant time without
/// ever holding it.
async fn client_for_token_endpoint(
    _caller: InternalCaller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, client_id) = path.into_inner();
    let (r, c) = (realm.clone(), client_id.clone());
    let app = state
        .ctx
        .db
        .run(move |conn| store::find_by_client_id(conn, &r, &c))
        .await
        .map_err(Error::from)?
        .ok_or(Error::AppNotFound(client_id))?;
    Ok(HttpResponse::Ok().json(internal_view(&state, &app)?))
}

/// Creates the default clients a tenant lacks; the answer lists the tenant's client ids.
async fn ensure_default_clients(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    check_tenant_name(&realm).map_err(Error::Invalid)?;
    let ids = crate::ensure_default_clients(&state, &realm, now_millis()).await?;
    Ok(HttpResponse::Ok().json(ids))
}

/// `scheme://host[:port]` of an absolute URL, or None.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.trim_end_matches('*');
    if scheme.is_empty() || authority.is_empty() || authority.contains('*') {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// The browser origins of a tenant's enabled apps, as Keycloak reads `webOrigins`: an origin
/// as given, `+` for the origins of the app's redirect URIs, `*` for any origin.
pub fn allowed_origins(apps: &[store::App]) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    for app in apps.iter().filter(|a| a.row.enabled) {
        for entry in &app.web_origins {
            let found: Vec<String> = match entry.as_str() {
                "+" => app
                    .redirect_uris
                    .iter()
                    .filter_map(|u| origin_of(u))
                    .collect(),
                "*" => vec!["*".to_owned()],
                other => origin_of(other).into_iter().collect(),
            };
            for origin in found {
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
        }
    }
    origins.sort();
    origins
}

/// For the gateway's CORS answers: `{"origins": [...]}`.
async fn web_origins(
    _caller: InternalCaller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let tenant = realm.into_inner();
    let apps = state
        .ctx
        .db
        .run(move |conn| store::list(conn, &tenant, None))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(json!({ "origins": allowed_origins(&apps) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_follow_keycloaks_web_origins_rules() {
        assert_eq!(
            origin_of("https://App.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            origin_of("https://app.example/*").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(origin_of("/relative"), None);
        let mut app = client::new_app(
            "t",
            "spa",
            client::Switches::default(),
            Default::default(),
            &[],
            1,
        );
        app.redirect_uris = vec![
            "https://spa.example/callback".into(),
            "http://localhost:3000/*".into(),
        ];
        app.web_origins = vec!["+".into(), "https://other.example".into()];
        let mut disabled = app.clone();
        disabled.row.enabled = false;
        disabled.web_origins = vec!["https://disabled.example".into()];
        assert_eq!(
            allowed_origins(&[app, disabled]),
            vec![
                "http://localhost:3000",
                "https://other.example",
                "https://spa.example"
            ]
        );
    }
}
