//! KOBIL's realm-role routes: `POST`/`DELETE /realms/{realm}/v3_role/{roleName}`.

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Kobil;

use crate::State;
use crate::error::Error;
use crate::roles::{self, RoleInput};
use crate::routes::{admin_roles, kobil_ok};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/realms/{realm}/v3_role/{role}", web::post().to(create))
        .route("/realms/{realm}/v3_role/{role}", web::delete().to(delete));
}

/// 409 if the role exists.
async fn create(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let (realm, role) = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    roles::check_name(&role).map_err(Error::Invalid)?;
    let input = RoleInput {
        name: Some(role),
        ..RoleInput::default()
    };
    admin_roles::create_role(&state, &realm, input).await?;
    Ok(kobil_ok("Role created successfully", None))
}

/// 404 if there is no such role; the realm's built-in roles stay.
async fn delete(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Kobil<Error, 1>> {
    let (realm, role) = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    admin_roles::delete_role(&state, &realm, Some(&role), None).await?;
    Ok(kobil_ok("Role deleted successfully", None))
}
