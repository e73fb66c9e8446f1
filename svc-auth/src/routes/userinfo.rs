//! OIDC UserInfo (Core §5.3): the claims of the access token's user, read fresh from svc-users.

use actix_web::{HttpRequest, HttpResponse, web};
use idp_shared::bearer::bearer_token;
use idp_shared::error::OAuth;
use idp_shared::names::now_millis;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::{State, tenants, users};

#[derive(Debug, Default, Deserialize)]
pub struct UserInfoForm {
    access_token: Option<String>,
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, OAuth<Error>> {
    userinfo(&req, &state, &realm, None).await
}

/// POST may carry the token in the body (RFC 6750 §2.2) instead of the header.
pub async fn post(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: Option<web::Form<UserInfoForm>>,
) -> Result<HttpResponse, OAuth<Error>> {
    let body_token = form.and_then(|f| f.into_inner().access_token);
    userinfo(&req, &state, &realm, body_token).await
}

async fn userinfo(
    req: &HttpRequest,
    state: &State,
    realm: &str,
    body_token: Option<String>,
) -> Result<HttpResponse, OAuth<Error>> {
    let tenant = tenants::enabled_tenant(state, realm).await?;
    let token = match (bearer_token(req.headers()), body_token) {
        (Ok(token), None) => token.to_owned(),
        (Err(_), Some(token)) => token,
        (Ok(_), Some(_)) => {
            return Err(
                Error::InvalidRequest("send the token once, not in two places".into()).into(),
            );
        }
        (Err(e), None) => return Err(Error::from(e.info()).into()),
    };
    let principal = state
        .ctx
        .verifier
        .verify(&token, &[tenant.name.as_str()], now_millis() / 1000)
        .await
        .map_err(|e| Error::from(e.info()))?;
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(principal.subject));
    match users::by_id(state, &tenant.name, &principal.subject).await? {
        Some(user) if user.enabled => {
            claims.insert(
                "email_verified".into(),
                json!(user.raw["user"]["emailVerified"].as_bool().unwrap_or(false)),
            );
            claims.insert("preferred_username".into(), json!(user.username));
            let given = user.field("firstName");
            let family = user.field("lastName");
            let name: Vec<&str> = [given, family].into_iter().flatten().collect();
            if !name.is_empty() {
                claims.insert("name".into(), json!(name.join(" ")));
            }
            for (claim, field) in [
                ("given_name", given),
                ("family_name", family),
                ("email", user.field("email")),
            ] {
                if let Some(v) = field {
                    claims.insert(claim.into(), json!(v));
                }
            }
        }
        // A service account has no user record: what its token says.
        None if principal.username.is_some() => {
            claims.insert("preferred_username".into(), json!(principal.username));
        }
        _ => {
            return Err(Error::from(idp_shared::error::ErrorInfo::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the token's user no longer exists or is disabled",
            ))
            .into());
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Value::Object(claims)))
}
