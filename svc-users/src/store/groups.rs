//! Groups: a tree per tenant addressed by path (`/parent/child`), with attributes, members and
//! role grants. Subtrees are found by path prefix, so moving or renaming a group rewrites the
//! paths below it in the same transaction.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use idp_shared::db::{DbConnection, DbError, MultiBackend};

use super::{ClientRoleGrant, escape_like};
use crate::schema::{
    group_attributes, group_client_roles, group_members, group_realm_roles, user_groups,
};

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Insertable)]
#[diesel(table_name = user_groups)]
pub struct GroupRow {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub path: String,
}

/// A name filter on groups: infix and case-insensitive, or exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSearch {
    pub text: String,
    pub exact: bool,
}

type BoxedGroups<'a> = user_groups::BoxedQuery<'a, MultiBackend>;

fn searched<'a>(query: BoxedGroups<'a>, search: Option<&GroupSearch>) -> BoxedGroups<'a> {
    match search {
        None => query,
        Some(s) if s.exact => query.filter(user_groups::name.eq(s.text.clone())),
        Some(s) => query.filter(
            lower(user_groups::name)
                .like(format!("%{}%", escape_like(&s.text.to_lowercase())))
                .escape('\\'),
        ),
    }
}

/// The `LIKE` pattern of everything below `path`.
fn below(path: &str) -> String {
    format!("{}/%", escape_like(path))
}

pub fn find(conn: &mut DbConnection, tenant: &str, id: &str) -> Result<Option<GroupRow>, DbError> {
    Ok(user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .filter(user_groups::id.eq(id))
        .first(conn)
        .optional()?)
}

pub fn find_by_path(
    conn: &mut DbConnection,
    tenant: &str,
    path: &str,
) -> Result<Option<GroupRow>, DbError> {
    Ok(user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .filter(user_groups::path.eq(path))
        .first(conn)
        .optional()?)
}

/// Groups by the names KOBIL's clients send: a path when it starts with `/`, else the
/// top-level group of that name, else the only group of that name. Unknown or ambiguous
/// names come back in the second list.
pub fn resolve_names(
    conn: &mut DbConnection,
    tenant: &str,
    names: &[String],
) -> Result<(Vec<GroupRow>, Vec<String>), DbError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        let group = if name.starts_with('/') {
            find_by_path(conn, tenant, name)?
        } else if let Some(top) = find_by_path(conn, tenant, &format!("/{name}"))? {
            Some(top)
        } else {
            let mut named: Vec<GroupRow> = user_groups::table
                .filter(user_groups::tenant.eq(tenant))
                .filter(user_groups::name.eq(name))
                .limit(2)
                .load(conn)?;
            if named.len() == 1 { named.pop() } else { None }
        };
        match group {
            Some(g) => {
                if !found.iter().any(|f: &GroupRow| f.id == g.id) {
                    found.push(g);
                }
            }
            None => missing.push(name.clone()),
        }
    }
    Ok((found, missing))
}

/// A page of the groups directly under `parent` (top-level ones for None), by name.
pub fn children(
    conn: &mut DbConnection,
    tenant: &str,
    parent: Option<&str>,
    search: Option<&GroupSearch>,
    first: i64,
    max: i64,
) -> Result<Vec<GroupRow>, DbError> {
    let mut query = user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .into_boxed::<MultiBackend>();
    query = match parent {
        Some(p) => query.filter(user_groups::parent_id.eq(p.to_owned())),
        None => query.filter(user_groups::parent_id.is_null()),
    };
    Ok(searched(query, search)
        .order((user_groups::name.asc(), user_groups::id.asc()))
        .offset(first)
        .limit(max)
        .load(conn)?)
}

/// Every group below any of `roots` (not the roots themselves), in one query.
pub fn descendants(
    conn: &mut DbConnection,
    tenant: &str,
    roots: &[GroupRow],
) -> Result<Vec<GroupRow>, DbError> {
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .into_boxed::<MultiBackend>();
    let mut prefixes = roots.iter().map(|r| below(&r.path));
    let first = prefixes.next().unwrap_or_default();
    let mut condition: Box<
        dyn BoxableExpression<user_groups::table, MultiBackend, SqlType = diesel::sql_types::Bool>,
    > = Box::new(user_groups::path.like(first).escape('\\'));
    for prefix in prefixes {
        condition = Box::new(condition.or(user_groups::path.like(prefix).escape('\\')));
    }
    query = query.filter(condition);
    Ok(query.order(user_groups::path.asc()).load(conn)?)
}

/// A page of the groups (any depth) whose name matches the search, by path.
pub fn matching(
    conn: &mut DbConnection,
    tenant: &str,
    search: &GroupSearch,
    first: i64,
    max: i64,
) -> Result<Vec<GroupRow>, DbError> {
    let query = user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .into_boxed::<MultiBackend>();
    Ok(searched(query, Some(search))
        .order((user_groups::path.asc(), user_groups::id.asc()))
        .offset(first)
        .limit(max)
        .load(conn)?)
}

/// Groups by path (ancestors of search matches).
pub fn by_paths(
    conn: &mut DbConnection,
    tenant: &str,
    paths: &[String],
) -> Result<Vec<GroupRow>, DbError> {
    Ok(user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .filter(user_groups::path.eq_any(paths))
        .order(user_groups::path.asc())
        .load(conn)?)
}

/// The number of groups: top-level only, or all; optionally matching a search.
pub fn count(
    conn: &mut DbConnection,
    tenant: &str,
    search: Option<&GroupSearch>,
    top_only: bool,
) -> Result<i64, DbError> {
    let mut query = user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .into_boxed::<MultiBackend>();
    if top_only {
        query = query.filter(user_groups::parent_id.is_null());
    }
    Ok(searched(query, search).count().get_result(conn)?)
}

/// How many direct children each of these groups has.
pub fn child_counts(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, i64>, DbError> {
    let rows: Vec<(Option<String>, i64)> = user_groups::table
        .filter(user_groups::parent_id.eq_any(ids))
        .group_by(user_groups::parent_id)
        .select((user_groups::parent_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(parent, n)| parent.map(|p| (p, n)))
        .collect())
}

/// Attributes, realm roles and client roles of these groups.
#[derive(Debug, Default)]
pub struct GroupDetails {
    pub attributes: HashMap<String, BTreeMap<String, Vec<String>>>,
    pub realm_roles: HashMap<String, Vec<String>>,
    pub client_roles: HashMap<String, Vec<ClientRoleGrant>>,
}

pub fn details(conn: &mut DbConnection, ids: &[String]) -> Result<GroupDetails, DbError> {
    let mut out = GroupDetails::default();
    let attributes: Vec<(String, String, String)> = group_attributes::table
        .filter(group_attributes::group_id.eq_any(ids))
        .order((
            group_attributes::name.asc(),
            group_attributes::position.asc(),
        ))
        .select((
            group_attributes::group_id,
            group_attributes::name,
            group_attributes::value,
        ))
        .load(conn)?;
    for (group, name, value) in attributes {
        out.attributes
            .entry(group)
            .or_default()
            .entry(name)
            .or_default()
            .push(value);
    }
    let realm: Vec<(String, String)> = group_realm_roles::table
        .filter(group_realm_roles::group_id.eq_any(ids))
        .order(group_realm_roles::role_name.asc())
        .load(conn)?;
    for (group, role) in realm {
        out.realm_roles.entry(group).or_default().push(role);
    }
    let client: Vec<(String, String, String, String)> = group_client_roles::table
        .filter(group_client_roles::group_id.eq_any(ids))
        .order((
            group_client_roles::client_id.asc(),
            group_client_roles::role_name.asc(),
        ))
        .select((
            group_client_roles::group_id,
            group_client_roles::app_id,
            group_client_roles::client_id,
            group_client_roles::role_name,
        ))
        .load(conn)?;
    for (group, app_id, client_id, role) in client {
        out.client_roles
            .entry(group)
            .or_default()
            .push(ClientRoleGrant {
                app_id,
                client_id,
                role,
            });
    }
    Ok(out)
}

fn write_attributes(
    conn: &mut DbConnection,
    group_id: &str,
    attributes: &BTreeMap<String, Vec<String>>,
) -> Result<(), diesel::result::Error> {
    diesel::delete(group_attributes::table.filter(group_attributes::group_id.eq(group_id)))
        .execute(conn)?;
    for (name, values) in attributes {
        for (position, value) in values.iter().enumerate() {
            diesel::insert_into(group_attributes::table)
                .values((
                    group_attributes::group_id.eq(group_id),
                    group_attributes::name.eq(name),
                    group_attributes::position.eq(position as i32),
                    group_attributes::value.eq(value),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Inserts a group with its attributes; a taken path is a unique violation (409).
pub fn insert(
    conn: &mut DbConnection,
    group: &GroupRow,
    attributes: &BTreeMap<String, Vec<String>>,
) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(user_groups::table)
            .values(group)
            .execute(conn)?;
        write_attributes(conn, &group.id, attributes)
    })?;
    Ok(())
}

/// Gives a group a new name and/or parent (its path and every path below it follow) and,
/// when given, new attributes. A taken path is a unique violation (409).
pub fn relocate(
    conn: &mut DbConnection,
    group: &GroupRow,
    name: &str,
    parent: Option<&GroupRow>,
    attributes: Option<&BTreeMap<String, Vec<String>>>,
) -> Result<(), DbError> {
    let new_path = match parent {
        Some(p) => format!("{}/{name}", p.path),
        None => format!("/{name}"),
    };
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        if new_path != group.path {
            let below_rows: Vec<(String, String)> = user_groups::table
                .filter(user_groups::tenant.eq(&group.tenant))
                .filter(user_groups::path.like(below(&group.path)).escape('\\'))
                .select((user_groups::id, user_groups::path))
                .load(conn)?;
            diesel::update(user_groups::table.find(&group.id))
                .set((
                    user_groups::name.eq(name),
                    user_groups::parent_id.eq(parent.map(|p| p.id.clone())),
                    user_groups::path.eq(&new_path),
                ))
                .execute(conn)?;
            for (id, path) in below_rows {
                let rest = &path[group.path.len()..];
                diesel::update(user_groups::table.find(&id))
                    .set(user_groups::path.eq(format!("{new_path}{rest}")))
                    .execute(conn)?;
            }
        }
        if let Some(attributes) = attributes {
            write_attributes(conn, &group.id, attributes)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Removes a group, everything below it, their memberships, attributes and role grants.
pub fn delete(conn: &mut DbConnection, group: &GroupRow) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let mut ids: Vec<String> = user_groups::table
            .filter(user_groups::tenant.eq(&group.tenant))
            .filter(user_groups::path.like(below(&group.path)).escape('\\'))
            .select(user_groups::id)
            .load(conn)?;
        ids.push(group.id.clone());
        diesel::delete(group_members::table.filter(group_members::group_id.eq_any(&ids)))
            .execute(conn)?;
        diesel::delete(group_realm_roles::table.filter(group_realm_roles::group_id.eq_any(&ids)))
            .execute(conn)?;
        diesel::delete(group_client_roles::table.filter(group_client_roles::group_id.eq_any(&ids)))
            .execute(conn)?;
        diesel::delete(group_attributes::table.filter(group_attributes::group_id.eq_any(&ids)))
            .execute(conn)?;
        diesel::delete(user_groups::table.filter(user_groups::id.eq_any(&ids))).execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

/// Makes a user a member (already being one is fine).
pub fn add_member(
    conn: &mut DbConnection,
    group_id: &str,
    user_id: &str,
) -> Result<(), diesel::result::Error> {
    let present: i64 = group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    if present == 0 {
        diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(group_id),
                group_members::user_id.eq(user_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Ends memberships; the number ended.
pub fn remove_members(
    conn: &mut DbConnection,
    group_ids: &[String],
    user_id: &str,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        group_members::table
            .filter(group_members::group_id.eq_any(group_ids))
            .filter(group_members::user_id.eq(user_id)),
    )
    .execute(conn)?)
}

/// A page of the groups a user is a member of directly, by path.
pub fn of_user(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    search: Option<&GroupSearch>,
    first: i64,
    max: i64,
) -> Result<Vec<GroupRow>, DbError> {
    let query = user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .filter(
            user_groups::id.eq_any(
                group_members::table
                    .filter(group_members::user_id.eq(user_id))
                    .select(group_members::group_id),
            ),
        )
        .into_boxed::<MultiBackend>();
    Ok(searched(query, search)
        .order(user_groups::path.asc())
        .offset(first)
        .limit(max)
        .load(conn)?)
}

pub fn count_of_user(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    search: Option<&GroupSearch>,
) -> Result<i64, DbError> {
    let query = user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .filter(
            user_groups::id.eq_any(
                group_members::table
                    .filter(group_members::user_id.eq(user_id))
                    .select(group_members::group_id),
            ),
        )
        .into_boxed::<MultiBackend>();
    Ok(searched(query, search).count().get_result(conn)?)
}

pub fn realm_roles(conn: &mut DbConnection, group_id: &str) -> Result<Vec<String>, DbError> {
    Ok(group_realm_roles::table
        .filter(group_realm_roles::group_id.eq(group_id))
        .select(group_realm_roles::role_name)
        .order(group_realm_roles::role_name.asc())
        .load(conn)?)
}

pub fn client_roles(
    conn: &mut DbConnection,
    group_id: &str,
) -> Result<Vec<ClientRoleGrant>, DbError> {
    Ok(details(conn, &[group_id.to_owned()])?
        .client_roles
        .remove(group_id)
        .unwrap_or_default())
}

/// Grants realm roles to a group (held ones are skipped).
pub fn add_realm_roles(
    conn: &mut DbConnection,
    group_id: &str,
    roles: &[String],
) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let held: Vec<String> = group_realm_roles::table
            .filter(group_realm_roles::group_id.eq(group_id))
            .select(group_realm_roles::role_name)
            .load(conn)?;
        for role in roles {
            if held.contains(role) {
                continue;
            }
            diesel::insert_into(group_realm_roles::table)
                .values((
                    group_realm_roles::group_id.eq(group_id),
                    group_realm_roles::role_name.eq(role),
                ))
                .execute(conn)?;
        }
        Ok(())
    })?;
    Ok(())
}

pub fn remove_realm_roles(
    conn: &mut DbConnection,
    group_id: &str,
    roles: &[String],
) -> Result<(), DbError> {
    diesel::delete(
        group_realm_roles::table
            .filter(group_realm_roles::group_id.eq(group_id))
            .filter(group_realm_roles::role_name.eq_any(roles)),
    )
    .execute(conn)?;
    Ok(())
}

/// Grants client roles to a group (held ones are skipped).
pub fn add_client_roles(
    conn: &mut DbConnection,
    group_id: &str,
    grants: &[ClientRoleGrant],
) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let held: Vec<(String, String)> = group_client_roles::table
            .filter(group_client_roles::group_id.eq(group_id))
            .select((group_client_roles::app_id, group_client_roles::role_name))
            .load(conn)?;
        for grant in grants {
            if held
                .iter()
                .any(|(app, role)| *app == grant.app_id && *role == grant.role)
            {
                continue;
            }
            diesel::insert_into(group_client_roles::table)
                .values((
                    group_client_roles::group_id.eq(group_id),
                    group_client_roles::app_id.eq(&grant.app_id),
                    group_client_roles::client_id.eq(&grant.client_id),
                    group_client_roles::role_name.eq(&grant.role),
                ))
                .execute(conn)?;
        }
        Ok(())
    })?;
    Ok(())
}

pub fn remove_client_roles(
    conn: &mut DbConnection,
    group_id: &str,
    app_id: &str,
    roles: &[String],
) -> Result<(), DbError> {
    diesel::delete(
        group_client_roles::table
            .filter(group_client_roles::group_id.eq(group_id))
            .filter(group_client_roles::app_id.eq(app_id))
            .filter(group_client_roles::role_name.eq_any(roles)),
    )
    .execute(conn)?;
    Ok(())
}
