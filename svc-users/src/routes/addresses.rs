//! KOBIL's addresses of a user: `/realms/{realm}/address/{userName}`. GET lists them, POST
//! adds one, PUT and DELETE name the address by `addressID` in the body. An administrator of
//! the tenant or the user itself may call them.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission, forbidden};
use idp_shared::error::Kobil;
use idp_shared::names::now_millis;
use serde_json::{Value, json};

use crate::State;
use crate::addresses::{AddressInput, MAX_ADDRESSES, address_id, representation};
use crate::error::Error;
use crate::kobil::{self, by_username};
use crate::model::User;
use crate::store::addresses::{self as address_store, AddressRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let path = "/realms/{realm}/address/{username}";
    cfg.route(path, web::get().to(list))
        .route(path, web::post().to(add))
        .route(path, web::put().to(change))
        .route(path, web::delete().to(remove));
}

type Reply = Result<HttpResponse, Kobil<Error, 5>>;
type UserPath = web::Path<(String, String)>;

/// The user of the path, if the caller holds `permission` in the tenant or is that user;
/// others get 403 whether or not the user exists.
async fn authorized_user(
    caller: &Caller,
    state: &State,
    tenant: &str,
    username: &str,
    permission: Permission,
) -> Result<User, Error> {
    if caller.may(tenant, permission) {
        return by_username(state, tenant, username).await;
    }
    match by_username(state, tenant, username).await {
        Ok(user) if caller.is_user(tenant, &user.row.id) => Ok(user),
        Ok(_) | Err(Error::UserNotFound) => Err(forbidden().into()),
        Err(e) => Err(e),
    }
}

/// The unique index on the default address refused a concurrent second default.
fn default_race(e: idp_shared::db::DbError) -> Error {
    if e.is_unique_violation() {
        Error::Conflict("another address became the default at the same time; retry".into())
    } else {
        e.into()
    }
}

async fn list(caller: Caller, state: web::Data<State>, path: UserPath) -> Reply {
    let (tenant, username) = path.into_inner();
    let user = authorized_user(&caller, &state, &tenant, &username, Permission::ViewUsers).await?;
    let rows = state
        .ctx
        .db
        .run(move |conn| address_store::of_user(conn, &user.row.id))
        .await
        .map_err(Error::from)?;
    let reps: Vec<Value> = rows.iter().map(representation).collect();
    Ok(kobil::ok(
        "Address info fetched successfully",
        Some(json!(reps)),
    ))
}

async fn add(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    let user =
        authorized_user(&caller, &state, &tenant, &username, Permission::ManageUsers).await?;
    let input = AddressInput::parse(&body)?;
    if input.is_empty() {
        return Err(Error::Invalid("an address needs at least one field".into()).into());
    }
    let address = AddressRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant,
        user_id: user.row.id,
        fields: input.apply("{}"),
        default_address: input.default_address.unwrap_or(false),
        created_timestamp: now_millis(),
    };
    let id = address.id.clone();
    let added = state
        .ctx
        .db
        .run(move |conn| {
            if address_store::count_of_user(conn, &address.user_id)? >= MAX_ADDRESSES {
                return Ok(false);
            }
            address_store::insert(conn, &address)?;
            Ok(true)
        })
        .await
        .map_err(default_race)?;
    if !added {
        return Err(Error::Invalid(format!("a user has at most {MAX_ADDRESSES} addresses")).into());
    }
    Ok(kobil::ok(
        "Address added successfully",
        Some(json!({ "addressID": id })),
    ))
}

/// Given fields replace, null or "" clears one; `defaultAddress: true` makes it the default.
async fn change(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    let user =
        authorized_user(&caller, &state, &tenant, &username, Permission::ManageUsers).await?;
    let id = address_id(&body)?;
    let input = AddressInput::parse(&body)?;
    let changed = state
        .ctx
        .db
        .run(move |conn| {
            let Some(mut address) = address_store::find(conn, &user.row.id, &id)? else {
                return Ok(false);
            };
            address.fields = input.apply(&address.fields);
            if let Some(default) = input.default_address {
                address.default_address = default;
            }
            address_store::update(conn, &address)?;
            Ok(true)
        })
        .await
        .map_err(default_race)?;
    if !changed {
        return Err(Error::NotFound("Address not found".into()).into());
    }
    Ok(kobil::ok("Address changed successfully.", None))
}

async fn remove(
    caller: Caller,
    state: web::Data<State>,
    path: UserPath,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, username) = path.into_inner();
    let user =
        authorized_user(&caller, &state, &tenant, &username, Permission::ManageUsers).await?;
    let id = address_id(&body)?;
    let deleted = state
        .ctx
        .db
        .run(move |conn| address_store::delete(conn, &user.row.id, &id))
        .await
        .map_err(Error::from)?;
    if !deleted {
        return Err(Error::NotFound("Address not found".into()).into());
    }
    Ok(kobil::ok("Address deleted successfully", None))
}
