//! Keycloak's realm-role admin API: `/admin/realms/{realm}/roles[/{role-name}[/composites]]`
//! and `/admin/realms/{realm}/roles-by-id/{id}`.

use std::collections::{HashMap, HashSet};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission, forbidden};
use idp_shared::error::Keycloak;
use idp_shared::names::now_millis;
use serde::Deserialize;

use crate::routes::lenient_bool;
use serde_json::{Value, json};

use crate::State;
use crate::error::Error;
use crate::roles::{self, RoleInput};
use crate::routes::{location, path_segment, tenant};
use crate::store::{self, RoleRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{realm}/roles", web::get().to(list))
        .route("/{realm}/roles", web::post().to(create))
        .route("/{realm}/roles/{role}", web::get().to(get_by_name))
        .route("/{realm}/roles/{role}", web::put().to(update_by_name))
        .route("/{realm}/roles/{role}", web::delete().to(delete_by_name))
        .route("/{realm}/roles/{role}/users", web::get().to(members))
        .route(
            "/{realm}/roles/{role}/composites",
            web::get().to(composites),
        )
        .route(
            "/{realm}/roles/{role}/composites/realm",
            web::get().to(composites),
        )
        .route(
            "/{realm}/roles/{role}/composites",
            web::post().to(add_composites),
        )
        .route(
            "/{realm}/roles/{role}/composites",
            web::delete().to(remove_composites),
        )
        .route("/{realm}/roles-by-id/{id}", web::get().to(get_by_id))
        .route("/{realm}/roles-by-id/{id}", web::put().to(update_by_id))
        .route("/{realm}/roles-by-id/{id}", web::delete().to(delete_by_id));
}

/// Listing roles is allowed to whoever views the realm, its users or its clients (the admin
/// console needs the list to map roles), as in Keycloak.
fn require_list(caller: &Caller, realm: &str) -> Result<(), Error> {
    if [
        Permission::ViewRealm,
        Permission::ViewUsers,
        Permission::ViewClients,
    ]
    .into_iter()
    .any(|p| caller.may(realm, p))
    {
        Ok(())
    } else {
        Err(forbidden().into())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    search: Option<String>,
    first: Option<usize>,
    max: Option<usize>,
    #[serde(default, deserialize_with = "lenient_bool")]
    brief_representation: Option<bool>,
}

/// The tenant's id and all its roles with each one's children's names.
async fn all_roles(
    state: &State,
    realm: &str,
) -> Result<(String, Vec<RoleRow>, HashMap<String, Vec<String>>), Error> {
    let tenant = tenant(state, realm).await?;
    let id = tenant.row.id.clone();
    let (rows, links) = state
        .ctx
        .db
        .run(move |conn| store::roles(conn, &id))
        .await?;
    let children = roles::children_by_role(&rows, &links);
    Ok((tenant.row.id, rows, children))
}

async fn list(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let realm = path.into_inner();
    require_list(&caller, &realm)?;
    let (_, rows, children) = all_roles(&state, &realm).await?;
    let search = query.search.as_deref().map(str::to_lowercase);
    let brief = query.brief_representation.unwrap_or(true);
    let reps: Vec<Value> = rows
        .iter()
        .filter(|r| {
            search
                .as_deref()
                .is_none_or(|s| r.name.to_lowercase().contains(s))
        })
        .skip(query.first.unwrap_or(0))
        .take(query.max.unwrap_or(usize::MAX))
        .map(|r| {
            let kids = children.get(&r.id).map(Vec::as_slice).unwrap_or_default();
            roles::representation(r, kids, brief)
        })
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

/// The ids of the roles named, which must all be roles of the tenant.
fn ids_of(rows: &[RoleRow], names: &[String]) -> Result<Vec<String>, Error> {
    names
        .iter()
        .map(|n| {
            rows.iter()
                .find(|r| &r.name == n)
                .map(|r| r.id.clone())
                .ok_or_else(|| Error::Invalid(format!("composite role {n:?} does not exist")))
        })
        .collect()
}

/// Creates a realm role (with realm-role composites if given).
pub async fn create_role(state: &State, realm: &str, input: RoleInput) -> Result<String, Error> {
    let name = input
        .name
        .clone()
        .ok_or_else(|| Error::Invalid("name is required".into()))?;
    let (tenant_id, rows, _) = all_roles(state, realm).await?;
    if rows.iter().any(|r| r.name == name) {
        return Err(Error::RoleExists(name));
    }
    let composite_ids = ids_of(&rows, &input.composites)?;
    let role = RoleRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id,
        name: name.clone(),
        description: input.description.flatten(),
        attributes: Value::Object(input.attributes.unwrap_or_default()).to_string(),
        created_at: now_millis(),
    };
    match state
        .ctx
        .db
        .run(move |conn| store::insert_role(conn, &role, &composite_ids))
        .await
    {
        Ok(()) => Ok(name),
        Err(e) if e.is_unique_violation() => Err(Error::RoleExists(name)),
        Err(e) => Err(e.into()),
    }
}

async fn create(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let realm = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let input = roles::parse_input(&body).map_err(Error::Invalid)?;
    let name = create_role(&state, &realm, input).await?;
    let url = location(
        &state,
        &format!("/admin/realms/{realm}/roles/{}", path_segment(&name)),
    );
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url))
        .finish())
}

/// How a route names a role.
#[derive(Debug, Clone, Copy)]
enum RoleRef<'a> {
    Name(&'a str),
    Id(&'a str),
}

/// The role and every role of its tenant (with children), or 404.
async fn find(
    state: &State,
    realm: &str,
    role: RoleRef<'_>,
) -> Result<(RoleRow, Vec<RoleRow>, HashMap<String, Vec<String>>), Error> {
    let (_, rows, children) = all_roles(state, realm).await?;
    let found = rows.iter().find(|r| match role {
        RoleRef::Name(n) => r.name == n,
        RoleRef::Id(id) => r.id == id,
    });
    let Some(found) = found.cloned() else {
        let shown = match role {
            RoleRef::Name(n) | RoleRef::Id(n) => n.to_owned(),
        };
        return Err(Error::RoleNotFound(shown));
    };
    Ok((found, rows, children))
}

async fn get_role(
    caller: &Caller,
    state: &State,
    realm: &str,
    role: RoleRef<'_>,
) -> Result<HttpResponse, Error> {
    require_list(caller, realm)?;
    let (row, _, children) = find(state, realm, role).await?;
    let kids = children.get(&row.id).map(Vec::as_slice).unwrap_or_default();
    Ok(HttpResponse::Ok().json(roles::representation(&row, kids, false)))
}

async fn get_by_name(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, role) = path.into_inner();
    Ok(get_role(&caller, &state, &realm, RoleRef::Name(&role)).await?)
}

async fn get_by_id(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    Ok(get_role(&caller, &state, &realm, RoleRef::Id(&id)).await?)
}

/// Renames a role and sets its description and attributes. The realm's default role and
/// master's `admin` keep their names.
async fn update_role(
    state: &State,
    realm: &str,
    role: RoleRef<'_>,
    input: RoleInput,
) -> Result<(), Error> {
    let (mut row, rows, _) = find(state, realm, role).await?;
    if let Some(name) = input.name
        && name != row.name
    {
        if roles::is_protected(realm, &row.name) {
            return Err(Error::Invalid(format!(
                "role {} cannot be renamed",
                row.name
            )));
        }
        if rows.iter().any(|r| r.name == name) {
            return Err(Error::RoleExists(name));
        }
        row.name = name;
    }
    if let Some(description) = input.description {
        row.description = description;
    }
    if let Some(attributes) = input.attributes {
        row.attributes = Value::Object(attributes).to_string();
    }
    let name = row.name.clone();
    match state
        .ctx
        .db
        .run(move |conn| store::update_role(conn, &row))
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::RoleNotFound(name)),
        Err(e) if e.is_unique_violation() => Err(Error::RoleExists(name)),
        Err(e) => Err(e.into()),
    }
}

async fn update_by_name(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, role) = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let input = roles::parse_input(&body).map_err(Error::Invalid)?;
    update_role(&state, &realm, RoleRef::Name(&role), input).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn update_by_id(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let input = roles::parse_input(&body).map_err(Error::Invalid)?;
    update_role(&state, &realm, RoleRef::Id(&id), input).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a role (not the realm's default role, nor master's `admin`).
pub async fn delete_role(
    state: &State,
    realm: &str,
    name: Option<&str>,
    id: Option<&str>,
) -> Result<(), Error> {
    let role = match (name, id) {
        (Some(n), _) => RoleRef::Name(n),
        (None, Some(id)) => RoleRef::Id(id),
        (None, None) => return Err(Error::Invalid("no role named".into())),
    };
    let (row, _, _) = find(state, realm, role).await?;
    if roles::is_protected(realm, &row.name) {
        return Err(Error::Invalid(format!(
            "{} is a built-in role of the realm and cannot be removed",
            row.name
        )));
    }
    let (id, name) = (row.id.clone(), row.name.clone());
    if !state
        .ctx
        .db
        .run(move |conn| store::delete_role(conn, &id))
        .await?
    {
        return Err(Error::RoleNotFound(name));
    }
    Ok(())
}

async fn delete_by_name(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, role) = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    delete_role(&state, &realm, Some(&role), None).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete_by_id(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, id) = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    delete_role(&state, &realm, None, Some(&id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The users holding a role (asked of svc-users, which keeps role mappings).
async fn members(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, role) = path.into_inner();
    caller
        .require(&realm, Permission::ViewUsers)
        .map_err(Error::from)?;
    find(&state, &realm, RoleRef::Name(&role)).await?;
    let users = crate::calls::role_members(&state.ctx, &realm, &role, req.query_string()).await?;
    Ok(HttpResponse::Ok().json(users))
}

/// The roles a composite role holds, as (brief) role representations.
async fn composites(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, role) = path.into_inner();
    require_list(&caller, &realm)?;
    let (row, rows, children) = find(&state, &realm, RoleRef::Name(&role)).await?;
    let names = children.get(&row.id).cloned().unwrap_or_default();
    let reps: Vec<Value> = rows
        .iter()
        .filter(|r| names.contains(&r.name))
        .map(|r| {
            let kids = children.get(&r.id).map(Vec::as_slice).unwrap_or_default();
            roles::representation(r, kids, true)
        })
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

/// The roles a composite-change body names (Keycloak sends role representations; each is
/// found by `id`, or by `name` when it has no id).
fn named_roles(body: &Value, rows: &[RoleRow]) -> Result<Vec<RoleRow>, Error> {
    let Value::Array(items) = body else {
        return Err(Error::Invalid("expected a list of roles".into()));
    };
    items
        .iter()
        .map(|item| {
            if item.get("clientRole").and_then(Value::as_bool) == Some(true) {
                return Err(Error::Invalid(
                    "composite realm roles hold realm roles only".into(),
                ));
            }
            let by_id = item.get("id").and_then(Value::as_str);
            let by_name = item.get("name").and_then(Value::as_str);
            let found = match (by_id, by_name) {
                (Some(id), _) => rows.iter().find(|r| r.id == id),
                (None, Some(n)) => rows.iter().find(|r| r.name == n),
                (None, None) => {
                    return Err(Error::Invalid("each role needs an id or a name".into()));
                }
            };
            found
                .cloned()
                .ok_or_else(|| Error::RoleNotFound(by_id.or(by_name).unwrap_or_default().into()))
        })
        .collect()
}

/// Whether `target` can be reached from `from` through composite links.
fn reaches(
    children: &HashMap<String, Vec<String>>,
    rows: &[RoleRow],
    from: &str,
    target: &str,
) -> bool {
    let id_of: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.id.as_str()))
        .collect();
    let mut seen = HashSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(id) = stack.pop() {
        if id == target {
            return true;
        }
        if !seen.insert(id.clone()) {
            continue;
        }
        for name in children.get(&id).into_iter().flatten() {
            if let Some(child) = id_of.get(name.as_str()) {
                stack.push((*child).to_owned());
            }
        }
    }
    false
}

async fn add_composites(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, role) = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let (row, rows, children) = find(&state, &realm, RoleRef::Name(&role)).await?;
    let added = named_roles(&body, &rows)?;
    // A role holding itself, directly or not, would make role expansion loop.
    if let Some(cycle) = added
        .iter()
        .find(|child| reaches(&children, &rows, &child.id, &row.id))
    {
        return Err(Error::Invalid(format!(
            "role {} already holds {} (directly or not): no cycles",
            cycle.name, row.name
        ))
        .into());
    }
    let ids: Vec<String> = added.into_iter().map(|r| r.id).collect();
    state
        .ctx
        .db
        .run(move |conn| store::add_composites(conn, &row.id, &ids))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove_composites(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Keycloak<Error>> {
    let (realm, role) = path.into_inner();
    caller
        .require(&realm, Permission::ManageRealm)
        .map_err(Error::from)?;
    let (row, rows, _) = find(&state, &realm, RoleRef::Name(&role)).await?;
    let ids: Vec<String> = named_roles(&body, &rows)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    state
        .ctx
        .db
        .run(move |conn| store::remove_composites(conn, &row.id, &ids))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every role of a tenant with Keycloak's `composites` (for svc-users: role checks and
/// composite expansion).
pub async fn internal_list(state: &State, realm: &str) -> Result<Value, Error> {
    let (_, rows, children) = all_roles(state, realm).await?;
    Ok(Value::Array(
        rows.iter()
            .map(|r| {
                let kids = children.get(&r.id).map(Vec::as_slice).unwrap_or_default();
                roles::representation_with_composites(r, kids)
            })
            .collect(),
    ))
}

/// Ensures `role` exists and is held by the tenant's default role (so every user has it).
pub async fn ensure_default_role_member(
    state: &State,
    realm: &str,
    role: &str,
) -> Result<Value, Error> {
    roles::check_name(role).map_err(Error::Invalid)?;
    let (_, rows, _) = all_roles(state, realm).await?;
    if !rows.iter().any(|r| r.name == role) {
        let input = RoleInput {
            name: Some(role.to_owned()),
            description: Some(Some(format!("${{role_{role}}}"))),
            ..RoleInput::default()
        };
        match create_role(state, realm, input).await {
            Ok(_) | Err(Error::RoleExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let (_, rows, _) = all_roles(state, realm).await?;
    let default_name = roles::default_roles_name(realm);
    let parent = rows
        .iter()
        .find(|r| r.name == default_name)
        .ok_or_else(|| Error::RoleNotFound(default_name.clone()))?
        .id
        .clone();
    let child = rows
        .iter()
        .find(|r| r.name == role)
        .ok_or_else(|| Error::RoleNotFound(role.to_owned()))?
        .id
        .clone();
    state
        .ctx
        .db
        .run(move |conn| store::add_composites(conn, &parent, &[child]))
        .await?;
    Ok(json!({"role": role, "defaultRole": default_name}))
}
