//! Every query svc-users runs. Functions take a connection and return typed rows. Lists are
//! filtered and paged in SQL over indexed columns; nothing loads a tenant's users into memory.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use idp_shared::admin::REALM_MANAGEMENT;
use idp_shared::db::{DbConnection, DbError, MultiBackend};

use crate::model::{User, UserRow};
use crate::query::{OrderKey, SearchTerm, TextFilter, UserQuery};
use crate::schema::{
    group_attributes, group_client_roles, group_members, group_realm_roles, user_addresses,
    user_attributes, user_client_roles, user_groups, user_realm_roles, user_required_actions,
    users,
};

pub mod addresses;
pub mod groups;

/// Realm roles that make a user an administrator in KOBIL's sense (promote, admin users).
pub const KOBIL_ADMIN_REALM_ROLES: [&str; 3] = ["digitanium_admin", "admin", "realm-admin"];
/// The `realm-management` client role that does the same.
pub const REALM_ADMIN_CLIENT_ROLE: &str = "realm-admin";

/// A client role as granted: the app's id, its clientId and the role's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClientRoleGrant {
    pub app_id: String,
    pub client_id: String,
    pub role: String,
}

fn write_children(conn: &mut DbConnection, user: &User) -> Result<(), diesel::result::Error> {
    let id = &user.row.id;
    diesel::delete(user_attributes::table.filter(user_attributes::user_id.eq(id))).execute(conn)?;
    diesel::delete(user_required_actions::table.filter(user_required_actions::user_id.eq(id)))
        .execute(conn)?;
    for (name, values) in &user.attributes {
        for (position, value) in values.iter().enumerate() {
            diesel::insert_into(user_attributes::table)
                .values((
                    user_attributes::id.eq(uuid::Uuid::new_v4().to_string()),
                    user_attributes::user_id.eq(id),
                    user_attributes::tenant.eq(&user.row.tenant),
                    user_attributes::name.eq(name),
                    user_attributes::value.eq(value),
                    user_attributes::position.eq(position as i32),
                ))
                .execute(conn)?;
        }
    }
    for action in &user.required_actions {
        diesel::insert_into(user_required_actions::table)
            .values((
                user_required_actions::user_id.eq(id),
                user_required_actions::action.eq(action),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// What a user is given besides its profile: realm roles, client roles and groups (by id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub realm_roles: Vec<String>,
    pub client_roles: Vec<ClientRoleGrant>,
    pub group_ids: Vec<String>,
}

fn add_grants(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    grants: &Grants,
) -> Result<(), diesel::result::Error> {
    add_realm_roles(conn, tenant, user_id, &grants.realm_roles)?;
    add_client_roles(conn, tenant, user_id, &grants.client_roles)?;
    for group_id in &grants.group_ids {
        groups::add_member(conn, group_id, user_id)?;
    }
    Ok(())
}

/// Adds grants to an existing user, in one transaction.
pub fn grant(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    grants: &Grants,
) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        add_grants(conn, tenant, user_id, grants)
    })?;
    Ok(())
}

/// Inserts a user with its attributes, required actions, roles and groups in one
/// transaction; a duplicate username is a unique violation the caller maps to 409.
pub fn insert_user(conn: &mut DbConnection, user: &User, grants: &Grants) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(users::table)
            .values(&user.row)
            .execute(conn)?;
        write_children(conn, user)?;
        add_grants(conn, &user.row.tenant, &user.row.id, grants)
    })?;
    Ok(())
}

/// Writes a changed user: its row, attributes and required actions.
pub fn update_user(conn: &mut DbConnection, user: &User) -> Result<(), DbError> {
    update_user_with_grants(conn, user, &Grants::default())
}

/// Writes a changed user and adds grants, in one transaction.
pub fn update_user_with_grants(
    conn: &mut DbConnection,
    user: &User,
    grants: &Grants,
) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::update(users::table.find(&user.row.id))
            .set(&user.row)
            .execute(conn)?;
        write_children(conn, user)?;
        add_grants(conn, &user.row.tenant, &user.row.id, grants)
    })?;
    Ok(())
}

/// Loads the attributes and required actions of a page of rows, two queries for the page.
fn complete(conn: &mut DbConnection, rows: Vec<UserRow>) -> Result<Vec<User>, DbError> {
    let ids: Vec<&String> = rows.iter().map(|r| &r.id).collect();
    let attributes: Vec<(String, String, String)> = user_attributes::table
        .filter(user_attributes::user_id.eq_any(&ids))
        .order((user_attributes::name.asc(), user_attributes::position.asc()))
        .select((
            user_attributes::user_id,
            user_attributes::name,
            user_attributes::value,
        ))
        .load(conn)?;
    let actions: Vec<(String, String)> = user_required_actions::table
        .filter(user_required_actions::user_id.eq_any(&ids))
        .order(user_required_actions::action.asc())
        .load(conn)?;
    let mut by_user: HashMap<String, BTreeMap<String, Vec<String>>> = HashMap::new();
    for (user_id, name, value) in attributes {
        by_user
            .entry(user_id)
            .or_default()
            .entry(name)
            .or_default()
            .push(value);
    }
    let mut actions_by_user: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, action) in actions {
        actions_by_user.entry(user_id).or_default().push(action);
    }
    Ok(rows
        .into_iter()
        .map(|row| User {
            attributes: by_user.remove(&row.id).unwrap_or_default(),
            required_actions: actions_by_user.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

pub fn find_user(conn: &mut DbConnection, tenant: &str, id: &str) -> Result<Option<User>, DbError> {
    let rows = users::table
        .filter(users::tenant.eq(tenant))
        .filter(users::id.eq(id))
        .load::<UserRow>(conn)?;
    Ok(complete(conn, rows)?.pop())
}

pub fn find_by_username(
    conn: &mut DbConnection,
    tenant: &str,
    username: &str,
) -> Result<Option<User>, DbError> {
    let rows = users::table
        .filter(users::tenant.eq(tenant))
        .filter(users::username.eq(username.to_lowercase()))
        .load::<UserRow>(conn)?;
    Ok(complete(conn, rows)?.pop())
}

pub fn find_by_email(
    conn: &mut DbConnection,
    tenant: &str,
    email: &str,
) -> Result<Option<User>, DbError> {
    let rows = users::table
        .filter(users::tenant.eq(tenant))
        .filter(users::email.eq(email.to_lowercase()))
        .order(users::created_timestamp.asc())
        .limit(1)
        .load::<UserRow>(conn)?;
    Ok(complete(conn, rows)?.pop())
}

/// Whether another user of the tenant (not `except`) has this email.
pub fn email_taken(
    conn: &mut DbConnection,
    tenant: &str,
    email: &str,
    except: Option<&str>,
) -> Result<bool, DbError> {
    let n: i64 = users::table
        .filter(users::tenant.eq(tenant))
        .filter(users::email.eq(email))
        .filter(users::id.ne(except.unwrap_or("")))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

type BoxedUsers<'a> = users::BoxedQuery<'a, MultiBackend>;

fn text_filter<'a>(
    query: BoxedUsers<'a>,
    column: &'static str,
    filter: &TextFilter,
) -> BoxedUsers<'a> {
    let value = filter.value.to_lowercase();
    macro_rules! on {
        ($col:expr) => {
            if filter.exact {
                query.filter($col.eq(value))
            } else {
                query.filter($col.like(format!("%{}%", escape_like(&value))).escape('\\'))
            }
        };
    }
    match column {
        "username" => on!(users::username),
        "email" => on!(users::email),
        "firstName" => on!(users::first_name_lower),
        _ => on!(users::last_name_lower),
    }
}

/// The query's filters, without order or paging.
fn filtered<'a>(q: &'a UserQuery) -> BoxedUsers<'a> {
    let mut query = users::table
        .filter(users::tenant.eq(&q.tenant))
        .into_boxed::<MultiBackend>();
    if !q.include_service_accounts {
        query = query.filter(users::service_account_client_id.is_null());
    }
    match &q.search {
        None | Some(SearchTerm::All) => {}
        Some(term) => {
            let pattern = match term {
                SearchTerm::Exact(v) => v.to_lowercase(),
                SearchTerm::Infix(v) => format!("%{}%", escape_like(&v.to_lowercase())),
                SearchTerm::Prefix(v) => format!("{}%", escape_like(&v.to_lowercase())),
                SearchTerm::All => unreachable!(),
            };
            query = if matches!(term, SearchTerm::Exact(_)) {
                query.filter(
                    users::username
                        .eq(pattern.clone())
                        .or(users::email.eq(pattern.clone()))
                        .or(users::first_name_lower.eq(pattern.clone()))
                        .or(users::last_name_lower.eq(pattern)),
                )
            } else {
                query.filter(
                    users::username
                        .like(pattern.clone())
                        .escape('\\')
                        .or(users::email.like(pattern.clone()).escape('\\'))
                        .or(users::first_name_lower.like(pattern.clone()).escape('\\'))
                        .or(users::last_name_lower.like(pattern).escape('\\')),
                )
            };
        }
    }
    for (column, filter) in [
        ("username", &q.username),
        ("email", &q.email),
        ("firstName", &q.first_name),
        ("lastName", &q.last_name),
    ] {
        if let Some(filter) = filter {
            query = text_filter(query, column, filter);
        }
    }
    if let Some(enabled) = q.enabled {
        query = query.filter(users::enabled.eq(enabled));
    }
    if let Some(verified) = q.email_verified {
        query = query.filter(users::email_verified.eq(verified));
    }
    if let Some(from) = q.created_from {
        query = query.filter(users::created_timestamp.ge(from));
    }
    if let Some(to) = q.created_to {
        query = query.filter(users::created_timestamp.le(to));
    }
    for (name, value) in &q.attributes {
        query = query.filter(
            users::id.eq_any(
                user_attributes::table
                    .filter(user_attributes::tenant.eq(&q.tenant))
                    .filter(user_attributes::name.eq(name))
                    .filter(user_attributes::value.eq(value))
                    .select(user_attributes::user_id),
            ),
        );
    }
    if let Some(role) = &q.realm_role {
        query = query.filter(
            users::id.eq_any(
                user_realm_roles::table
                    .filter(user_realm_roles::tenant.eq(&q.tenant))
                    .filter(user_realm_roles::role_name.eq(role))
                    .select(user_realm_roles::user_id),
            ),
        );
    }
    if let Some(filter) = &q.client_role {
        query = query.filter(
            users::id.eq_any(
                user_client_roles::table
                    .filter(user_client_roles::tenant.eq(&q.tenant))
                    .filter(user_client_roles::app_id.eq(&filter.app_id))
                    .filter(user_client_roles::role_name.eq(&filter.role))
                    .select(user_client_roles::user_id),
            ),
        );
    }
    if let Some(groups) = &q.group_ids {
        query = query.filter(
            users::id.eq_any(
                group_members::table
                    .filter(group_members::group_id.eq_any(groups))
                    .select(group_members::user_id),
            ),
        );
    }
    if let Some(names) = &q.group_names {
        let ids = user_groups::table
            .filter(user_groups::tenant.eq(&q.tenant))
            .filter(
                user_groups::name
                    .eq_any(names)
                    .or(user_groups::path.eq_any(names)),
            )
            .select(user_groups::id);
        query = query.filter(
            users::id.eq_any(
                group_members::table
                    .filter(group_members::group_id.eq_any(ids))
                    .select(group_members::user_id),
            ),
        );
    }
    if q.admins_only {
        query = query.filter(
            users::id
                .eq_any(
                    user_realm_roles::table
                        .filter(user_realm_roles::tenant.eq(&q.tenant))
                        .filter(user_realm_roles::role_name.eq_any(KOBIL_ADMIN_REALM_ROLES))
                        .select(user_realm_roles::user_id),
                )
                .or(users::id.eq_any(
                    user_client_roles::table
                        .filter(user_client_roles::tenant.eq(&q.tenant))
                        .filter(user_client_roles::client_id.eq(REALM_MANAGEMENT))
                        .filter(user_client_roles::role_name.eq(REALM_ADMIN_CLIENT_ROLE))
                        .select(user_client_roles::user_id),
                )),
        );
    }
    query
}

/// The query's order: the chosen column (absent values last on both backends), then id so
/// that pages do not overlap.
fn ordered<'a>(query: BoxedUsers<'a>, q: &UserQuery) -> BoxedUsers<'a> {
    macro_rules! by {
        ($col:expr) => {
            if q.order.descending {
                query.order(($col.desc(), users::id.desc()))
            } else {
                query.order(($col.asc(), users::id.asc()))
            }
        };
    }
    macro_rules! by_nullable {
        ($col:expr) => {
            if q.order.descending {
                query.order(($col.is_null().asc(), $col.desc(), users::id.desc()))
            } else {
                query.order(($col.is_null().asc(), $col.asc(), users::id.asc()))
            }
        };
    }
    match q.order.key {
        OrderKey::Username => by!(users::username),
        OrderKey::Created => by!(users::created_timestamp),
        OrderKey::Email => by_nullable!(users::email),
        OrderKey::FirstName => by_nullable!(users::first_name_lower),
        OrderKey::LastName => by_nullable!(users::last_name_lower),
    }
}

/// One page of the query's users, by username unless the query orders otherwise.
pub fn list_users(conn: &mut DbConnection, q: &UserQuery) -> Result<Vec<User>, DbError> {
    let rows = ordered(filtered(q), q)
        .offset(q.first)
        .limit(q.max)
        .load::<UserRow>(conn)?;
    complete(conn, rows)
}

/// A page of users and the number of all matches, in one unit of work.
pub fn page_of_users(conn: &mut DbConnection, q: &UserQuery) -> Result<(Vec<User>, i64), DbError> {
    let total = count_users(conn, q)?;
    let users = if total > q.first {
        list_users(conn, q)?
    } else {
        Vec::new()
    };
    Ok((users, total))
}

/// Which of these users are administrators in KOBIL's sense.
pub fn admins_among(
    conn: &mut DbConnection,
    tenant: &str,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, DbError> {
    let mut admins: std::collections::HashSet<String> = user_realm_roles::table
        .filter(user_realm_roles::tenant.eq(tenant))
        .filter(user_realm_roles::user_id.eq_any(ids))
        .filter(user_realm_roles::role_name.eq_any(KOBIL_ADMIN_REALM_ROLES))
        .select(user_realm_roles::user_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    admins.extend(
        user_client_roles::table
            .filter(user_client_roles::tenant.eq(tenant))
            .filter(user_client_roles::user_id.eq_any(ids))
            .filter(user_client_roles::client_id.eq(REALM_MANAGEMENT))
            .filter(user_client_roles::role_name.eq(REALM_ADMIN_CLIENT_ROLE))
            .select(user_client_roles::user_id)
            .load::<String>(conn)?,
    );
    Ok(admins)
}

/// The client roles of one app these users hold directly: user id -> role names.
pub fn client_roles_among(
    conn: &mut DbConnection,
    tenant: &str,
    app_id: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, DbError> {
    let rows: Vec<(String, String)> = user_client_roles::table
        .filter(user_client_roles::tenant.eq(tenant))
        .filter(user_client_roles::app_id.eq(app_id))
        .filter(user_client_roles::user_id.eq_any(ids))
        .select((user_client_roles::user_id, user_client_roles::role_name))
        .order(user_client_roles::role_name.asc())
        .load(conn)?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (user, role) in rows {
        out.entry(user).or_default().push(role);
    }
    Ok(out)
}

/// The tenants in which a username exists (one lookup on the username index).
pub fn tenants_with_username(
    conn: &mut DbConnection,
    username: &str,
) -> Result<Vec<String>, DbError> {
    Ok(users::table
        .filter(users::username.eq(username.to_lowercase()))
        .select(users::tenant)
        .order(users::tenant.asc())
        .load(conn)?)
}

pub fn count_users(conn: &mut DbConnection, q: &UserQuery) -> Result<i64, DbError> {
    Ok(filtered(q).count().get_result(conn)?)
}

/// Removes a user and everything hanging off it.
pub fn delete_user(conn: &mut DbConnection, tenant: &str, id: &str) -> Result<bool, DbError> {
    let deleted = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::delete(user_attributes::table.filter(user_attributes::user_id.eq(id)))
            .execute(conn)?;
        diesel::delete(user_required_actions::table.filter(user_required_actions::user_id.eq(id)))
            .execute(conn)?;
        diesel::delete(user_realm_roles::table.filter(user_realm_roles::user_id.eq(id)))
            .execute(conn)?;
        diesel::delete(user_client_roles::table.filter(user_client_roles::user_id.eq(id)))
            .execute(conn)?;
        diesel::delete(group_members::table.filter(group_members::user_id.eq(id))).execute(conn)?;
        diesel::delete(user_addresses::table.filter(user_addresses::user_id.eq(id)))
            .execute(conn)?;
        diesel::delete(
            users::table
                .filter(users::tenant.eq(tenant))
                .filter(users::id.eq(id)),
        )
        .execute(conn)
    })?;
    Ok(deleted > 0)
}

/// Removes every user and group of a tenant.
pub fn delete_tenant(conn: &mut DbConnection, tenant: &str) -> Result<(), DbError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let user_ids = users::table
            .filter(users::tenant.eq(tenant))
            .select(users::id);
        let group_ids = user_groups::table
            .filter(user_groups::tenant.eq(tenant))
            .select(user_groups::id);
        diesel::delete(group_members::table.filter(group_members::group_id.eq_any(group_ids)))
            .execute(conn)?;
        diesel::delete(
            group_realm_roles::table.filter(group_realm_roles::group_id.eq_any(group_ids)),
        )
        .execute(conn)?;
        diesel::delete(
            group_client_roles::table.filter(group_client_roles::group_id.eq_any(group_ids)),
        )
        .execute(conn)?;
        diesel::delete(
            group_attributes::table.filter(group_attributes::group_id.eq_any(group_ids)),
        )
        .execute(conn)?;
        diesel::delete(user_groups::table.filter(user_groups::tenant.eq(tenant))).execute(conn)?;
        diesel::delete(user_addresses::table.filter(user_addresses::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(
            user_required_actions::table.filter(user_required_actions::user_id.eq_any(user_ids)),
        )
        .execute(conn)?;
        diesel::delete(user_attributes::table.filter(user_attributes::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(user_realm_roles::table.filter(user_realm_roles::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(user_client_roles::table.filter(user_client_roles::tenant.eq(tenant)))
            .execute(conn)?;
        diesel::delete(users::table.filter(users::tenant.eq(tenant))).execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

/// Grants realm roles (already granted ones are skipped).
pub fn add_realm_roles(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    roles: &[String],
) -> Result<(), diesel::result::Error> {
    let held = direct_realm_roles(conn, user_id)?;
    for role in roles {
        if held.contains(role) {
            continue;
        }
        diesel::insert_into(user_realm_roles::table)
            .values((
                user_realm_roles::user_id.eq(user_id),
                user_realm_roles::tenant.eq(tenant),
                user_realm_roles::role_name.eq(role),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn remove_realm_roles(
    conn: &mut DbConnection,
    user_id: &str,
    roles: &[String],
) -> Result<(), DbError> {
    diesel::delete(
        user_realm_roles::table
            .filter(user_realm_roles::user_id.eq(user_id))
            .filter(user_realm_roles::role_name.eq_any(roles)),
    )
    .execute(conn)?;
    Ok(())
}

/// Grants client roles (already granted ones are skipped).
pub fn add_client_roles(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
    grants: &[ClientRoleGrant],
) -> Result<(), diesel::result::Error> {
    let held = direct_client_roles(conn, user_id)?;
    for grant in grants {
        if held.contains(grant) {
            continue;
        }
        diesel::insert_into(user_client_roles::table)
            .values((
                user_client_roles::user_id.eq(user_id),
                user_client_roles::tenant.eq(tenant),
                user_client_roles::app_id.eq(&grant.app_id),
                user_client_roles::client_id.eq(&grant.client_id),
                user_client_roles::role_name.eq(&grant.role),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn remove_client_roles(
    conn: &mut DbConnection,
    user_id: &str,
    app_id: &str,
    roles: &[String],
) -> Result<(), DbError> {
    diesel::delete(
        user_client_roles::table
            .filter(user_client_roles::user_id.eq(user_id))
            .filter(user_client_roles::app_id.eq(app_id))
            .filter(user_client_roles::role_name.eq_any(roles)),
    )
    .execute(conn)?;
    Ok(())
}

pub fn direct_realm_roles(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<String>, diesel::result::Error> {
    user_realm_roles::table
        .filter(user_realm_roles::user_id.eq(user_id))
        .select(user_realm_roles::role_name)
        .order(user_realm_roles::role_name.asc())
        .load(conn)
}

pub fn direct_client_roles(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<ClientRoleGrant>, diesel::result::Error> {
    let rows: Vec<(String, String, String)> = user_client_roles::table
        .filter(user_client_roles::user_id.eq(user_id))
        .select((
            user_client_roles::app_id,
            user_client_roles::client_id,
            user_client_roles::role_name,
        ))
        .order((
            user_client_roles::client_id.asc(),
            user_client_roles::role_name.asc(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(app_id, client_id, role)| ClientRoleGrant {
            app_id,
            client_id,
            role,
        })
        .collect())
}

/// The groups a user is a member of, directly: (id, path).
pub fn groups_of(conn: &mut DbConnection, user_id: &str) -> Result<Vec<(String, String)>, DbError> {
    Ok(group_members::table
        .inner_join(user_groups::table)
        .filter(group_members::user_id.eq(user_id))
        .select((user_groups::id, user_groups::path))
        .order(user_groups::path.asc())
        .load(conn)?)
}

/// Realm and client roles a user holds through its groups and their ancestors.
pub fn group_roles(
    conn: &mut DbConnection,
    tenant: &str,
    user_id: &str,
) -> Result<(Vec<String>, Vec<ClientRoleGrant>), DbError> {
    let paths: Vec<String> = groups_of(conn, user_id)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if paths.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    // Every ancestor path of every group ("/a/b" -> "/a", "/a/b").
    let mut lineage: Vec<String> = Vec::new();
    for path in &paths {
        let mut prefix = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            if !lineage.contains(&prefix) {
                lineage.push(prefix.clone());
            }
        }
    }
    let ids: Vec<String> = user_groups::table
        .filter(user_groups::tenant.eq(tenant))
        .filter(user_groups::path.eq_any(&lineage))
        .select(user_groups::id)
        .load(conn)?;
    let realm: Vec<String> = group_realm_roles::table
        .filter(group_realm_roles::group_id.eq_any(&ids))
        .select(group_realm_roles::role_name)
        .distinct()
        .load(conn)?;
    let client: Vec<(String, String, String)> = group_client_roles::table
        .filter(group_client_roles::group_id.eq_any(&ids))
        .select((
            group_client_roles::app_id,
            group_client_roles::client_id,
            group_client_roles::role_name,
        ))
        .distinct()
        .load(conn)?;
    Ok((
        realm,
        client
            .into_iter()
            .map(|(app_id, client_id, role)| ClientRoleGrant {
                app_id,
                client_id,
                role,
            })
            .collect(),
    ))
}
