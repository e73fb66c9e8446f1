//! `/realms/{t}/kobilriskbits/resources-auth/...`: a tenant's riskbits and device risk
//! verification. Replies are raw bodies (no KOBIL envelope) except the bulk route, which
//! answers in the seed's sample shape; errors are `{error, message}`.
//!
//! Only the tenant's admins (or master's) write; any token of the tenant (its apps) reads and
//! verifies.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission, forbidden};
use idp_shared::error::Plain;
use idp_shared::names::now_millis;
use idp_shared::realms::lookup_realm;
use serde_json::{Value, json};

use crate::State;
use crate::error::Error;
use crate::riskbit::{BULK_MESSAGE, Representation, RiskbitInput, VerifyInput, plan_bulk};
use crate::store::{self, RiskbitRow};

const BASE: &str = "/realms/{realm}/kobilriskbits/resources-auth";

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The fixed sub-paths come before `{id}`, so they are never taken for an id.
    cfg.service(web::resource(format!("{BASE}/list")).route(web::post().to(add_list)))
        .service(web::resource(format!("{BASE}/verify")).route(web::post().to(verify)))
        .service(
            web::resource(BASE)
                .route(web::post().to(create))
                .route(web::get().to(get_all))
                .route(web::delete().to(delete_all)),
        )
        .service(
            web::resource(format!("{BASE}/{{id}}"))
                .route(web::get().to(get_one))
                .route(web::put().to(update))
                .route(web::delete().to(delete_one)),
        );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Who may act on `realm`'s riskbits: writers need `manage-realm` there (or are master
/// admins); readers hold any token of the realm, or are master admins.
async fn authorize(
    state: &State,
    caller: &Caller,
    realm: &str,
    access: Access,
) -> Result<(), Error> {
    let allowed = match access {
        Access::Write => caller.may(realm, Permission::ManageRealm),
        Access::Read => caller.principal.tenant == realm || caller.is_master_admin(),
    };
    if !allowed {
        return Err(Error::Denied(forbidden()));
    }
    // A token of the realm proves the realm exists (its keys verified it); a master admin may
    // name any realm, so only then is svc-tenants asked.
    if caller.principal.tenant != realm
        && lookup_realm(&state.ctx.client, &*state.ctx.cache, realm)
            .await?
            .is_none()
    {
        return Err(Error::RealmNotFound(realm.to_owned()));
    }
    Ok(())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `POST .../resources-auth`: one riskbit; 201 with it, 409 when its rating level is taken.
async fn create(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<RiskbitInput>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    authorize(&state, &caller, &realm, Access::Write).await?;
    let riskbit = body.validate(&realm)?;
    let row = RiskbitRow::new(new_id(), &realm, &riskbit, now_millis());
    let stored = row.clone();
    match state
        .ctx
        .db
        .run(move |conn| store::insert(conn, &stored))
        .await
    {
        Ok(()) => Ok(HttpResponse::Created().json(Representation::from(row))),
        Err(e) if e.is_unique_violation() => {
            Err(Error::DuplicateRatingLevel(riskbit.rating_level).into())
        }
        Err(e) => Err(Error::from(e).into()),
    }
}

/// `POST .../resources-auth/list`: adds each valid item; the reply names every refused item
/// and why (the seed's sample shape). A body that is not an array changes nothing.
async fn add_list(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    authorize(&state, &caller, &realm, Access::Write).await?;
    let mut plan = plan_bulk(&body, &realm)?;
    let now = now_millis();
    let rows: Vec<RiskbitRow> = plan
        .valid
        .iter()
        .map(|(_, riskbit)| RiskbitRow::new(new_id(), &realm, riskbit, now))
        .collect();
    let added = state
        .ctx
        .db
        .run(move |conn| store::insert_each(conn, &rows))
        .await
        .map_err(Error::from)?;
    for ((key, riskbit), added) in plan.valid.iter().zip(added) {
        if !added {
            let reason = Error::DuplicateRatingLevel(riskbit.rating_level.clone()).to_string();
            plan.rejected.push((key.clone(), reason));
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "message": BULK_MESSAGE,
        "status": "OK",
        "subSystem": 1,
        "data": plan.rejections(),
    })))
}

/// `POST .../resources-auth/verify`: the riskbits naming the device's risk on its platform, or
/// holding its score; 200 with them, 204 when none.
async fn verify(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<VerifyInput>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    authorize(&state, &caller, &realm, Access::Read).await?;
    let query = body.validate()?;
    let rows = state
        .ctx
        .db
        .run(move |conn| {
            store::matching(
                conn,
                &realm,
                query.platform,
                query.risk_name.as_deref(),
                query.score,
            )
        })
        .await
        .map_err(Error::from)?;
    if rows.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let found: Vec<Representation> = rows.into_iter().map(Representation::from).collect();
    Ok(HttpResponse::Ok().json(found))
}

/// `GET .../resources-auth`: every riskbit of the realm, by rating level.
async fn get_all(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    authorize(&state, &caller, &realm, Access::Read).await?;
    let rows = state
        .ctx
        .db
        .run(move |conn| store::list(conn, &realm))
        .await
        .map_err(Error::from)?;
    let all: Vec<Representation> = rows.into_iter().map(Representation::from).collect();
    Ok(HttpResponse::Ok().json(all))
}

/// `DELETE .../resources-auth`: removes every riskbit of the realm; 204.
async fn delete_all(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
) -> Result<HttpResponse, Plain<Error>> {
    let realm = realm.into_inner();
    authorize(&state, &caller, &realm, Access::Write).await?;
    state
        .ctx
        .db
        .run(move |conn| store::delete_all(conn, &realm))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET .../resources-auth/{id}`: one riskbit, 404 when the realm has none of that id.
async fn get_one(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, id) = path.into_inner();
    authorize(&state, &caller, &realm, Access::Read).await?;
    let wanted = id.clone();
    let row = state
        .ctx
        .db
        .run(move |conn| store::find(conn, &realm, &wanted))
        .await
        .map_err(Error::from)?
        .ok_or(Error::RiskbitNotFound(id))?;
    Ok(HttpResponse::Ok().json(Representation::from(row)))
}

/// `PUT .../resources-auth/{id}`: replaces a riskbit (every field, as on create); 200 with
/// it, 404 when missing, 409 when its new rating level belongs to another riskbit.
async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<RiskbitInput>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, id) = path.into_inner();
    authorize(&state, &caller, &realm, Access::Write).await?;
    if body.id.as_deref().is_some_and(|body_id| body_id != id) {
        return Err(Error::Invalid("the id in the body is not the id in the path".into()).into());
    }
    let riskbit = body.validate(&realm)?;
    let wanted = id.clone();
    let stored = state
        .ctx
        .db
        .run(move |conn| store::find(conn, &realm, &wanted))
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::RiskbitNotFound(id.clone()))?;
    let row = RiskbitRow {
        created_at: stored.created_at,
        ..RiskbitRow::new(id.clone(), &stored.tenant, &riskbit, now_millis())
    };
    let written = row.clone();
    match state
        .ctx
        .db
        .run(move |conn| store::replace(conn, &written))
        .await
    {
        Ok(true) => Ok(HttpResponse::Ok().json(Representation::from(row))),
        // Deleted between the read and the write.
        Ok(false) => Err(Error::RiskbitNotFound(id).into()),
        Err(e) if e.is_unique_violation() => {
            Err(Error::DuplicateRatingLevel(riskbit.rating_level).into())
        }
        Err(e) => Err(Error::from(e).into()),
    }
}

/// `DELETE .../resources-auth/{id}`: 204, or 404 when the realm has no such riskbit.
async fn delete_one(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Plain<Error>> {
    let (realm, id) = path.into_inner();
    authorize(&state, &caller, &realm, Access::Write).await?;
    let wanted = id.clone();
    let deleted = state
        .ctx
        .db
        .run(move |conn| store::delete(conn, &realm, &wanted))
        .await
        .map_err(Error::from)?;
    if deleted {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Error::RiskbitNotFound(id).into())
    }
}
