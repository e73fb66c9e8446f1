//! Keycloak's group routes: `/admin/realms/{realm}/groups...`, `/group-by-path/{path}`, and a
//! user's memberships `/admin/realms/{realm}/users/{id}/groups...`.

use std::collections::{BTreeSet, HashMap};

use actix_web::{HttpResponse, web};
use idp_shared::admin::{Caller, Permission};
use idp_shared::error::Keycloak;
use serde_json::{Value, json};

use crate::accounts::load;
use crate::error::Error;
use crate::groups::{GroupInput, Tree, access, flat_representation, name_taken, path_under};
use crate::model::representation;
use crate::query::{MAX_PAGE, UserQuery, first_max, flag};
use crate::store::groups::{self as group_store, GroupRow, GroupSearch};
use crate::{State, peers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let base = "/admin/realms/{realm}/groups";
    cfg.route(base, web::get().to(list))
        .route(base, web::post().to(create_top))
        .route(&format!("{base}/count"), web::get().to(count))
        .route(&format!("{base}/{{id}}"), web::get().to(get))
        .route(&format!("{base}/{{id}}"), web::put().to(update))
        .route(&format!("{base}/{{id}}"), web::delete().to(delete))
        .route(&format!("{base}/{{id}}/children"), web::get().to(children))
        .route(
            &format!("{base}/{{id}}/children"),
            web::post().to(create_child),
        )
        .route(&format!("{base}/{{id}}/members"), web::get().to(members))
        .route(
            "/admin/realms/{realm}/group-by-path/{path:.*}",
            web::get().to(by_path),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/groups/count",
            web::get().to(user_groups_count),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/groups",
            web::get().to(user_groups),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/groups/{group}",
            web::put().to(join),
        )
        .route(
            "/admin/realms/{realm}/users/{id}/groups/{group}",
            web::delete().to(leave),
        );
}

type Reply = Result<HttpResponse, Keycloak<Error>>;
type Params = web::Query<HashMap<String, String>>;

/// Keycloak's default page of a group's children.
const DEFAULT_CHILDREN_PAGE: i64 = 10;

/// The group, or 404 (also for ids that cannot be ids).
pub async fn load_group(state: &State, tenant: &str, id: &str) -> Result<GroupRow, Error> {
    if id.is_empty() || id.len() > 64 {
        return Err(group_not_found());
    }
    let (t, i) = (tenant.to_owned(), id.to_owned());
    state
        .ctx
        .db
        .run(move |conn| group_store::find(conn, &t, &i))
        .await?
        .ok_or_else(group_not_found)
}

fn group_not_found() -> Error {
    Error::NotFound("Could not find group by id".into())
}

fn search_of(params: &HashMap<String, String>) -> Result<Option<GroupSearch>, Error> {
    let exact = flag(params, "exact")?.unwrap_or(false);
    Ok(params
        .get("search")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && *s != "*")
        .map(|s| GroupSearch {
            text: s.trim_matches('*').to_owned(),
            exact,
        }))
}

/// Every prefix path of `path`: "/a/b" -> "/a", "/a/b".
fn lineage(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut prefix = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        out.push(prefix.clone());
    }
    out
}

/// Representations of `roots` with the rows below them; counts and (unless brief) details
/// are read for every group shown, in one unit of work with the rows.
async fn represent(
    state: &State,
    roots: Vec<GroupRow>,
    below: Vec<GroupRow>,
    brief: bool,
) -> Result<Vec<Value>, Error> {
    let ids: Vec<String> = roots.iter().chain(&below).map(|g| g.id.clone()).collect();
    let (counts, details) = state
        .ctx
        .db
        .run(move |conn| {
            let counts = group_store::child_counts(conn, &ids)?;
            let details = if brief {
                None
            } else {
                Some(group_store::details(conn, &ids)?)
            };
            Ok((counts, details))
        })
        .await?;
    let tree = Tree::new(&below, &counts, details.as_ref());
    Ok(roots.iter().map(|r| tree.representation(r)).collect())
}

/// Top-level groups with their subgroups. With `search`, the top-level groups on the way to
/// a match, holding only the branches that lead to matches (Keycloak's populated hierarchy),
/// or with `populateHierarchy=false` the matches themselves.
async fn list(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: Params,
) -> Reply {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    peers::realm(&state, &tenant).await?;
    // Keycloak lists every group when `max` is absent; here the cap applies.
    let (first, max) = first_max(&params, MAX_PAGE)?;
    let brief = flag(&params, "briefRepresentation")?.unwrap_or(true);
    let populate = flag(&params, "populateHierarchy")?.unwrap_or(true);
    let search = search_of(&params)?;
    let (roots, below) = state
        .ctx
        .db
        .run(move |conn| match &search {
            None => {
                let roots = group_store::children(conn, &tenant, None, None, first, max)?;
                let below = group_store::descendants(conn, &tenant, &roots)?;
                Ok((roots, below))
            }
            Some(search) if !populate => {
                let found = group_store::matching(conn, &tenant, search, first, max)?;
                Ok((found, Vec::new()))
            }
            Some(search) => {
                // The hierarchy is built from at most MAX_PAGE matches, then paged by root.
                let found = group_store::matching(conn, &tenant, search, 0, MAX_PAGE)?;
                let paths: BTreeSet<String> = found.iter().flat_map(|g| lineage(&g.path)).collect();
                let paths: Vec<String> = paths.into_iter().collect();
                let rows = group_store::by_paths(conn, &tenant, &paths)?;
                let (top, below): (Vec<GroupRow>, Vec<GroupRow>) =
                    rows.into_iter().partition(|g| g.parent_id.is_none());
                let mut top = top;
                top.sort_by(|a, b| a.name.cmp(&b.name));
                let roots = top
                    .into_iter()
                    .skip(first as usize)
                    .take(max as usize)
                    .collect();
                Ok((roots, below))
            }
        })
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(represent(&state, roots, below, brief).await?))
}

/// `{count}`: all groups, or with `top=true` the top-level ones; `search` narrows.
async fn count(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    params: Params,
) -> Reply {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    peers::realm(&state, &tenant).await?;
    let top = flag(&params, "top")?.unwrap_or(false);
    let search = search_of(&params)?;
    let n = state
        .ctx
        .db
        .run(move |conn| group_store::count(conn, &tenant, search.as_ref(), top))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(json!({ "count": n })))
}

/// Creates a group under `parent` (201 + Location), or with an existing group's `id` moves
/// that group there (204), as Keycloak's POST does.
async fn place(
    state: &State,
    tenant: &str,
    parent: Option<GroupRow>,
    body: &Value,
) -> Result<HttpResponse, Error> {
    let input = GroupInput::parse(body)?;
    if let Some(id) = &input.id {
        let group = load_group(state, tenant, id).await?;
        if let Some(p) = &parent
            && (p.id == group.id || p.path.starts_with(&format!("{}/", group.path)))
        {
            return Err(Error::Invalid(
                "a group cannot be moved into itself or below itself".into(),
            ));
        }
        let name = input.name.clone().unwrap_or_else(|| group.name.clone());
        relocate(state, tenant, group, name, parent, input.attributes).await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    let name = input
        .name
        .ok_or_else(|| Error::Invalid("Group name is missing".into()))?;
    let group = GroupRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.to_owned(),
        path: path_under(parent.as_ref(), &name),
        parent_id: parent.as_ref().map(|p| p.id.clone()),
        name: name.clone(),
    };
    let stored = group.clone();
    let attributes = input.attributes.unwrap_or_default();
    let inserted = state
        .ctx
        .db
        .run(move |conn| {
            if group_store::find_by_path(conn, &stored.tenant, &stored.path)?.is_some() {
                return Ok(false);
            }
            group_store::insert(conn, &stored, &attributes)?;
            Ok(true)
        })
        .await;
    match inserted {
        Ok(true) => {}
        Ok(false) => return Err(name_taken(parent.as_ref(), &name)),
        Err(e) if e.is_unique_violation() => return Err(name_taken(parent.as_ref(), &name)),
        Err(e) => return Err(e.into()),
    }
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!(
                "{}/admin/realms/{tenant}/groups/{}",
                state.ctx.settings.public_url(),
                group.id
            ),
        ))
        .finish())
}

/// Renames and/or moves a group (409 when the new path is taken) and sets its attributes.
async fn relocate(
    state: &State,
    tenant: &str,
    group: GroupRow,
    name: String,
    parent: Option<GroupRow>,
    attributes: Option<std::collections::BTreeMap<String, Vec<String>>>,
) -> Result<(), Error> {
    let new_path = path_under(parent.as_ref(), &name);
    let t = tenant.to_owned();
    let (g, n, p) = (group.clone(), name.clone(), parent.clone());
    let moved = state
        .ctx
        .db
        .run(move |conn| {
            if new_path != g.path && group_store::find_by_path(conn, &t, &new_path)?.is_some() {
                return Ok(false);
            }
            group_store::relocate(conn, &g, &n, p.as_ref(), attributes.as_ref())?;
            Ok(true)
        })
        .await;
    match moved {
        Ok(true) => Ok(()),
        Ok(false) => Err(name_taken(parent.as_ref(), &name)),
        Err(e) if e.is_unique_violation() => Err(name_taken(parent.as_ref(), &name)),
        Err(e) => Err(e.into()),
    }
}

async fn create_top(
    caller: Caller,
    state: web::Data<State>,
    realm: web::Path<String>,
    body: web::Json<Value>,
) -> Reply {
    let tenant = realm.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    peers::realm(&state, &tenant).await?;
    Ok(place(&state, &tenant, None, &body).await?)
}

async fn create_child(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let parent = load_group(&state, &tenant, &id).await?;
    Ok(place(&state, &tenant, Some(parent), &body).await?)
}

/// The full representation of one group with its whole subtree.
async fn full(state: &State, group: GroupRow) -> Result<Value, Error> {
    let (tenant, root) = (group.tenant.clone(), group.clone());
    let below = state
        .ctx
        .db
        .run(move |conn| group_store::descendants(conn, &tenant, &[root]))
        .await?;
    let mut reps = represent(state, vec![group], below, false).await?;
    let mut rep = reps.pop().unwrap_or(Value::Null);
    if let Value::Object(map) = &mut rep {
        map.insert("access".into(), access());
    }
    Ok(rep)
}

async fn get(caller: Caller, state: web::Data<State>, path: web::Path<(String, String)>) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let group = load_group(&state, &tenant, &id).await?;
    Ok(HttpResponse::Ok().json(full(&state, group).await?))
}

async fn by_path(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, group_path) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    peers::realm(&state, &tenant).await?;
    let wanted = format!("/{}", group_path.trim_matches('/'));
    let group = state
        .ctx
        .db
        .run(move |conn| group_store::find_by_path(conn, &tenant, &wanted))
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::NotFound("Group path does not exist".into()))?;
    Ok(HttpResponse::Ok().json(full(&state, group).await?))
}

/// Keycloak's PUT: a new `name` renames (the subtree's paths follow), `attributes` replace.
async fn update(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let group = load_group(&state, &tenant, &id).await?;
    let input = GroupInput::parse(&body)?;
    let parent = match &group.parent_id {
        Some(p) => Some(load_group(&state, &tenant, p).await?),
        None => None,
    };
    let name = input.name.unwrap_or_else(|| group.name.clone());
    relocate(&state, &tenant, group, name, parent, input.attributes).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    let group = load_group(&state, &tenant, &id).await?;
    state
        .ctx
        .db
        .run(move |conn| group_store::delete(conn, &group))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// A page of a group's direct children (Keycloak: `first` 0, `max` 10), with their subtrees.
async fn children(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    params: Params,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    let parent = load_group(&state, &tenant, &id).await?;
    let (first, max) = first_max(&params, DEFAULT_CHILDREN_PAGE)?;
    let brief = flag(&params, "briefRepresentation")?.unwrap_or(false);
    let search = search_of(&params)?;
    let (roots, below) = state
        .ctx
        .db
        .run(move |conn| {
            let roots = group_store::children(
                conn,
                &tenant,
                Some(&parent.id),
                search.as_ref(),
                first,
                max,
            )?;
            let below = group_store::descendants(conn, &tenant, &roots)?;
            Ok((roots, below))
        })
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(represent(&state, roots, below, brief).await?))
}

/// The group's direct members, by username (`first`, `max` 100, `briefRepresentation`).
async fn members(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    params: Params,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load_group(&state, &tenant, &id).await?;
    let (first, max) = first_max(&params, crate::query::DEFAULT_PAGE)?;
    let brief = flag(&params, "briefRepresentation")?.unwrap_or(false);
    let query = UserQuery {
        group_ids: Some(vec![id]),
        include_service_accounts: true,
        first,
        max,
        ..UserQuery::all(&tenant)
    };
    let users = state
        .ctx
        .db
        .run(move |conn| crate::store::list_users(conn, &query))
        .await
        .map_err(Error::from)?;
    let reps: Vec<Value> = users
        .iter()
        .map(|u| representation(u, false, brief))
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

/// The groups a user is a direct member of, by path (`search`, `first`, `max`,
/// `briefRepresentation` default true).
async fn user_groups(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    params: Params,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let (first, max) = first_max(&params, MAX_PAGE)?;
    let brief = flag(&params, "briefRepresentation")?.unwrap_or(true);
    let search = search_of(&params)?;
    let (rows, details) = state
        .ctx
        .db
        .run(move |conn| {
            let rows = group_store::of_user(conn, &tenant, &id, search.as_ref(), first, max)?;
            let details = if brief {
                None
            } else {
                let ids: Vec<String> = rows.iter().map(|g| g.id.clone()).collect();
                Some(group_store::details(conn, &ids)?)
            };
            Ok((rows, details))
        })
        .await
        .map_err(Error::from)?;
    let reps: Vec<Value> = rows
        .iter()
        .map(|g| {
            let mut rep = flat_representation(g, details.as_ref());
            rep.insert("subGroups".into(), json!([]));
            Value::Object(rep)
        })
        .collect();
    Ok(HttpResponse::Ok().json(reps))
}

async fn user_groups_count(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    params: Params,
) -> Reply {
    let (tenant, id) = path.into_inner();
    caller
        .require(&tenant, Permission::ViewUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    let search = search_of(&params)?;
    let n = state
        .ctx
        .db
        .run(move |conn| group_store::count_of_user(conn, &tenant, &id, search.as_ref()))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(json!({ "count": n })))
}

async fn join(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
) -> Reply {
    let (tenant, id, group_id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    load_group(&state, &tenant, &group_id).await?;
    state
        .ctx
        .db
        .run(move |conn| Ok(group_store::add_member(conn, &group_id, &id)?))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn leave(
    caller: Caller,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
) -> Reply {
    let (tenant, id, group_id) = path.into_inner();
    caller
        .require(&tenant, Permission::ManageUsers)
        .map_err(Error::from)?;
    load(&state, &tenant, &id).await?;
    load_group(&state, &tenant, &group_id).await?;
    state
        .ctx
        .db
        .run(move |conn| group_store::remove_members(conn, &[group_id], &id))
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_lists_every_ancestor() {
        assert_eq!(lineage("/a/b/c"), vec!["/a", "/a/b", "/a/b/c"]);
        assert_eq!(lineage("/a"), vec!["/a"]);
    }
}
