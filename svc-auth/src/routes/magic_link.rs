//! KOBIL's magic link (`POST /realms/{t}/kobil-magic-link/access-link`): mails a user a
//! one-time link that signs them in to an app. The gateway lets the path through without a
//! token, but it is a user-administration call (it may create the user): the caller's token
//! must hold `manage-users` in the tenant, as Keycloak's magic-link extensions require.
//!
//! Only the code flow is offered (`responseType` "code"); a public app must send a PKCE
//! challenge (`codeChallenge`, S256), which the magic link carries to the code. The link
//! itself is an action token (`crate::action_tokens`); opening it runs `resetPassword`'s
//! UPDATE_PASSWORD and the user's other required actions, then answers the app.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use idp_shared::ServiceKind;
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::{ErrorInfo, Kobil};
use idp_shared::names::now_millis;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::action_tokens::{self, ActionToken, Purpose};
use crate::authorize::{self, Params};
use crate::error::Error;
use crate::{State, clients, tenants, users};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/realms/{realm}/kobil-magic-link/access-link",
        web::post().to(access_link),
    );
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLinkRequest {
    client_id: Option<String>,
    email: Option<String>,
    #[serde(default)]
    force_create: bool,
    redirect_uri: Option<String>,
    #[serde(default)]
    reset_password: bool,
    response_mode: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    /// PKCE S256 challenge (this platform's addition; required for public apps).
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
}

type Reply = Result<HttpResponse, Kobil<Error, 5>>;

fn bad_request(message: impl Into<String>) -> Error {
    Error::Refused(ErrorInfo::new(
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
        message,
    ))
}

async fn access_link(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<AccessLinkRequest>,
) -> Reply {
    let tenant = tenants::enabled_tenant(&state, &realm).await?;
    caller
        .require(&tenant.name, Permission::ManageUsers)
        .map_err(Error::from)?;
    let body = body.into_inner();
    let email = body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| e.contains('@') && e.len() <= 254)
        .ok_or_else(|| bad_request("email must be an email address"))?;
    let client_id = body
        .client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad_request("clientId is required"))?;
    let client = clients::lookup(&state, &tenant.name, client_id)
        .await?
        .filter(|c| c.client.enabled && !c.client.bearer_only)
        .ok_or_else(|| {
            Error::Refused(ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "APP_NOT_FOUND",
                "App not found",
            ))
        })?;
    // The same checks as a browser's authorization request, on the same parameters.
    let mut pairs = vec![
        ("client_id", client_id.to_owned()),
        (
            "response_type",
            body.response_type.clone().unwrap_or_else(|| "code".into()),
        ),
    ];
    let optional = [
        ("redirect_uri", &body.redirect_uri),
        ("response_mode", &body.response_mode),
        ("scope", &body.scope),
        ("code_challenge", &body.code_challenge),
        ("code_challenge_method", &body.code_challenge_method),
        ("state", &body.state),
        ("nonce", &body.nonce),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            pairs.push((name, v.clone()));
        }
    }
    let params = Params::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        .map_err(|e| bad_request(e.message))?;
    let destination = authorize::trusted_destination(&params, &client)
        .map_err(|e| bad_request(format!("redirectUri: {}", e.message)))?;
    let (request, _) = authorize::validate(&params, &client, destination)
        .map_err(|r| bad_request(r.description))?;

    let user = match users::by_username(&state, &tenant.name, email).await? {
        Some(user) => user,
        None if body.force_create => create_user(&state, &tenant.name, email).await?,
        None => {
            return Err(Error::Refused(ErrorInfo::new(
                StatusCode::NOT_FOUND,
                "USER_NOT_FOUND",
                "User not found",
            ))
            .into());
        }
    };
    if !user.enabled {
        return Err(bad_request("the user is disabled").into());
    }
    let now = now_millis();
    let token = ActionToken {
        tenant: tenant.name.clone(),
        user_id: user.id.clone(),
        purpose: Purpose::MagicLink {
            request,
            reset_password: body.reset_password,
        },
        attempt_id: None,
        expires_at: now.saturating_add(tenant.action_token_lifespan.saturating_mul(1000)),
    };
    let key = action_tokens::issue(&state, &token, now).await?;
    let link = action_tokens::link(&state, &tenant, &key);
    let to = user.field("email").unwrap_or(email);
    action_tokens::mail(&state, &tenant, "MAGIC_LINK", to, &link).await?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "Mail was sent successfully to provided email id with magic link",
        "status": "OK",
        "subSystem": 5,
    })))
}

/// A user for an address nobody has yet (`forceCreate`): the address is the username.
async fn create_user(state: &State, tenant: &str, email: &str) -> Result<users::UserView, Error> {
    let reply = state
        .ctx
        .client
        .request(
            Method::POST,
            ServiceKind::Users,
            &format!("/internal/realms/{tenant}/users"),
        )
        .json(&json!({ "username": email, "email": email, "enabled": true }))
        .send()
        .await
        .map_err(|e| Error::Upstream(format!("svc-users: {e}")))?;
    if reply.status().as_u16() == 400 {
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        return Err(bad_request(
            body["message"]
                .as_str()
                .unwrap_or("the user cannot be created")
                .to_owned(),
        ));
    }
    if !reply.status().is_success() {
        return Err(Error::Upstream(format!(
            "svc-users answered {} to a new user",
            reply.status()
        )));
    }
    let created: Value = reply
        .json()
        .await
        .map_err(|e| Error::Upstream(format!("svc-users: {e}")))?;
    let id = created["id"].as_str().unwrap_or_default();
    users::by_id(state, tenant, id)
        .await?
        .ok_or_else(|| Error::Upstream("svc-users lost the user it created".into()))
}
