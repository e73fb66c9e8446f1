//! `POST /realms/{t}/mail/send/{userName}`: a templated mail to a user. WELCOME goes to
//! svc-tenants' outbox with the caller's links; FORGOT_PASSWORD and VERIFY_EMAIL carry a
//! single-use link of svc-auth's hosted pages, which svc-auth makes and mails.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Kobil;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::kobil::{by_username, ok};
use crate::{State, peers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/realms/{realm}/mail/send/{user_name}",
        web::post().to(send),
    );
}

/// The WELCOME template's parameters a caller may give.
const WELCOME_PARAMS: [&str; 3] = ["portalUrl", "iosLink", "androidLink"];

async fn send(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Kobil<Error, 5>> {
    let (tenant, user_name) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let Value::Object(fields) = body.into_inner() else {
        return Err(Error::Invalid("the body must be an object".into()).into());
    };
    let mail_type = fields
        .get("mailType")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Invalid("mailType is required".into()))?
        .to_ascii_uppercase();
    let user = by_username(&state, &tenant, &user_name).await?;
    let email = user
        .row
        .email
        .clone()
        .ok_or_else(|| Error::Invalid("the user has no email address".into()))?;
    match mail_type.as_str() {
        "WELCOME" => {
            let mut params = Map::new();
            for key in WELCOME_PARAMS {
                if let Some(value) = fields.get(key).and_then(Value::as_str) {
                    params.insert(key.into(), Value::String(value.to_owned()));
                }
            }
            if let Some(first) = &user.row.first_name {
                params.insert("firstName".into(), Value::String(first.clone()));
            }
            peers::queue_mail(&state, &tenant, "WELCOME", &email, Value::Object(params)).await?;
        }
        "FORGOT_PASSWORD" | "VERIFY_EMAIL" => {
            peers::action_mail(&state, &tenant, &user.row.id, &mail_type).await?;
        }
        other => {
            return Err(Error::Invalid(format!(
                "mailType {other} is not one of WELCOME, FORGOT_PASSWORD, VERIFY_EMAIL"
            ))
            .into());
        }
    }
    Ok(ok("Mail queued for delivery to the user", None))
}
