//! KOBIL's mail administration (subSystem 8): the tenant's SMTP configuration
//! (`/realms/{realm}/mail/setup`) and a test mail (`/realms/{realm}/mail/test`). Tenant
//! administrators only. The test mail is queued: the reply never waits on SMTP.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, ErrorShape, Permission};
use idp_shared::error::{Kobil, Shape, extractor_configs};
use idp_shared::names::now_millis;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::mail::setup::{Setup, representation};
use crate::mail::{self, MailRequest, Template};
use crate::routes::tenant;
use crate::store::mail as mail_store;
use crate::{State, calls};

/// KOBIL's subSystem of mail.
pub const SUBSYSTEM: u8 = 8;
type Reply = Result<HttpResponse, Kobil<Error, SUBSYSTEM>>;

pub fn configure(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    let shape = Shape::Kobil(SUBSYSTEM);
    cfg.service(
        web::scope("/realms/{realm}/mail")
            .app_data(web::Data::new(ErrorShape(shape)))
            .configure(|cfg| {
                extractor_configs(shape, max_body_bytes).register(cfg);
                cfg.route("/setup", web::get().to(get_setup))
                    .route("/setup", web::post().to(set_setup))
                    .route("/test", web::post().to(test));
            }),
    );
}

fn ok(status: actix_web::http::StatusCode, message: &str, data: Option<Value>) -> HttpResponse {
    let mut body = json!({"message": message, "status": "OK", "subSystem": SUBSYSTEM});
    if let Some(data) = data {
        body["data"] = data;
    }
    HttpResponse::build(status).json(body)
}

async fn get_setup(caller: Caller, state: web::Data<State>, path: web::Path<String>) -> Reply {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let tenant = tenant(&state, &realm).await?;
    let config = state
        .ctx
        .db
        .run(move |conn| mail_store::find_config(conn, &tenant.row.id))
        .await
        .map_err(Error::from)?;
    let message = if config.is_some() {
        "SMTP details fetched successfully"
    } else {
        "No SMTP details: the platform's mail server is used"
    };
    Ok(ok(
        actix_web::http::StatusCode::OK,
        message,
        Some(representation(config.as_ref())),
    ))
}

/// Replaces the configuration; an absent or masked password keeps the stored one.
async fn set_setup(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Reply {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let setup = Setup::parse(&body).map_err(Error::Invalid)?;
    let tenant = tenant(&state, &realm).await?;
    let id = tenant.row.id.clone();
    let existing = state
        .ctx
        .db
        .run(move |conn| mail_store::find_config(conn, &id))
        .await
        .map_err(Error::from)?;
    let row = setup
        .into_row(
            &tenant.row.id,
            &tenant.row.name,
            existing.as_ref(),
            &state.secrets,
            now_millis(),
        )
        .map_err(Error::Invalid)?;
    state
        .ctx
        .db
        .run(move |conn| mail_store::save_config(conn, &row))
        .await
        .map_err(Error::from)?;
    tracing::info!(tenant = %realm, "SMTP configuration updated");
    Ok(ok(
        actix_web::http::StatusCode::OK,
        "Successfully updated SMTP Details.",
        None,
    ))
}

/// Templates an administrator may try out (the others need links only other services make).
const TESTABLE: [Template; 2] = [Template::Test, Template::Welcome];
/// WELCOME's parameters taken from the body.
const WELCOME_PARAMS: [&str; 3] = ["portalUrl", "iosLink", "androidLink"];

/// Queues a test mail to `to`, or to the caller's own address. 200 at once, whether or not
/// the SMTP server answers (the outcome is in the log and the outbox).
async fn test(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Reply {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let Value::Object(fields) = body.into_inner() else {
        return Err(Error::Invalid("the body must be a JSON object".into()).into());
    };
    let mail_type = match fields.get("mailType") {
        None | Some(Value::Null) => Template::Test.name(),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(Error::Invalid("mailType must be a string".into()).into()),
    };
    if !TESTABLE.iter().any(|t| t.name() == mail_type) {
        return Err(Error::Invalid(format!(
            "mailType must be {}, not {mail_type:?}",
            TESTABLE.map(Template::name).join(" or ")
        ))
        .into());
    }
    let params: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| WELCOME_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let tenant = tenant(&state, &realm).await?;
    let to = match fields.get("to") {
        None | Some(Value::Null) => {
            let p = &caller.principal;
            calls::user_email(&state.ctx, &p.tenant, &p.subject)
                .await?
                .ok_or_else(|| {
                    Error::Invalid(
                        "your account has no email address: give the recipient as `to`".into(),
                    )
                })?
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Error::Invalid("to must be a string".into()).into()),
    };
    let request =
        MailRequest::new(mail_type, &to, Some(&Value::Object(params))).map_err(Error::Invalid)?;
    let to = request.to.clone();
    let id = mail::queue(&state, &tenant, request).await?;
    Ok(ok(
        actix_web::http::StatusCode::OK,
        "Mail queued for delivery to the user",
        Some(json!({"id": id, "to": to})),
    ))
}
