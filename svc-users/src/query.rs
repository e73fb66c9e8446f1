//! The filters of Keycloak's user list, parsed once from the query string.

use std::collections::HashMap;

use crate::error::Error;

/// Page sizes above this are clamped (documented in the README).
pub const MAX_PAGE: i64 = 1000;
/// Keycloak's page size when `max` is absent.
pub const DEFAULT_PAGE: i64 = 100;
/// KOBIL's page size when `limit` is absent (its samples show 20).
pub const KOBIL_DEFAULT_PAGE: i64 = 20;

/// The column a user list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderKey {
    #[default]
    Username,
    Email,
    FirstName,
    LastName,
    Created,
}

impl OrderKey {
    /// Keycloak's and KOBIL's names, case-insensitive (KOBIL's samples write `lastname`).
    pub fn parse(name: &str) -> Result<OrderKey, Error> {
        match name.trim().to_ascii_lowercase().as_str() {
            "username" => Ok(OrderKey::Username),
            "email" => Ok(OrderKey::Email),
            "firstname" => Ok(OrderKey::FirstName),
            "lastname" => Ok(OrderKey::LastName),
            "createdtimestamp" | "created" => Ok(OrderKey::Created),
            _ => Err(Error::Invalid(format!(
                "cannot order by {name:?}: use username, email, firstName, lastName or createdTimestamp"
            ))),
        }
    }
}

/// Ascending by username unless asked otherwise; ties are broken by id so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserOrder {
    pub key: OrderKey,
    pub descending: bool,
}

fn direction(text: &str) -> Result<bool, Error> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "asc" => Ok(false),
        "desc" => Ok(true),
        _ => Err(Error::Invalid(format!(
            "order must be asc or desc, not {text:?}"
        ))),
    }
}

/// A client role a list is filtered by: the app's id and the role's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRoleFilter {
    pub app_id: String,
    pub role: String,
}

/// One KOBIL page: 1-based number and size, and the offset they make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KobilPage {
    pub number: i64,
    pub size: i64,
}

impl KobilPage {
    pub fn offset(&self) -> i64 {
        (self.number - 1).saturating_mul(self.size)
    }

    /// KOBIL's `page` object for a list of `total` matches.
    pub fn describe(&self, total: i64) -> serde_json::Value {
        let pages = if self.size == 0 {
            0
        } else {
            (total + self.size - 1) / self.size
        };
        serde_json::json!({
            "currentPage": self.number,
            "pageSize": self.size,
            "totalPages": pages,
            "totalRecords": total,
        })
    }
}

/// `search`: prefix by default, `*infix*`, `"exact"`, or `*` for everyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    All,
    Prefix(String),
    Infix(String),
    Exact(String),
}

impl SearchTerm {
    pub fn parse(text: &str) -> SearchTerm {
        let text = text.trim();
        if text.is_empty() || text == "*" {
            return SearchTerm::All;
        }
        if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
            return SearchTerm::Exact(text[1..text.len() - 1].to_owned());
        }
        if text.starts_with('*') {
            return SearchTerm::Infix(text.trim_matches('*').to_owned());
        }
        SearchTerm::Prefix(text.trim_end_matches('*').to_owned())
    }
}

/// A filter on one column: infix by default, equality with `exact=true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFilter {
    pub value: String,
    pub exact: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserQuery {
    pub tenant: String,
    pub search: Option<SearchTerm>,
    pub username: Option<TextFilter>,
    pub email: Option<TextFilter>,
    pub first_name: Option<TextFilter>,
    pub last_name: Option<TextFilter>,
    pub enabled: Option<bool>,
    pub email_verified: Option<bool>,
    /// `q=name:value name2:value2`: every pair must match.
    pub attributes: Vec<(String, String)>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub realm_role: Option<String>,
    pub client_role: Option<ClientRoleFilter>,
    /// Members of any of these groups (by id).
    pub group_ids: Option<Vec<String>>,
    /// Members of any group with one of these names or paths (Keycloak's `groups`).
    pub group_names: Option<Vec<String>>,
    /// Holders of an administrator role (KOBIL's admin users).
    pub admins_only: bool,
    /// `filterForRole` as given: a realm role id or name, resolved by the route.
    pub role_filter: Option<String>,
    /// `includeRolesForClient`: a client's id whose roles each user's entry lists.
    pub include_roles_for_client: Option<String>,
    pub order: UserOrder,
    pub include_service_accounts: bool,
    pub brief: bool,
    /// The query can match no one (e.g. an identity-provider link: we broker none).
    pub matches_nobody: bool,
    pub first: i64,
    pub max: i64,
}

pub fn flag(params: &HashMap<String, String>, key: &str) -> Result<Option<bool>, Error> {
    // Case-insensitive: Python clients send `True`.
    match params
        .get(key)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(Error::Invalid(format!("{key} must be true or false"))),
    }
}

pub fn number(params: &HashMap<String, String>, key: &str) -> Result<Option<i64>, Error> {
    match params.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Error::Invalid(format!("{key} must be a whole number"))),
    }
}

/// Keycloak's `first` and `max`: `first` >= 0 (default 0), `max` >= 0 (default given),
/// clamped to [`MAX_PAGE`].
pub fn first_max(params: &HashMap<String, String>, default_max: i64) -> Result<(i64, i64), Error> {
    let first = number(params, "first")?.unwrap_or(0);
    if first < 0 {
        return Err(Error::Invalid("first must not be negative".into()));
    }
    let max = match number(params, "max")? {
        None => default_max,
        Some(m) if m < 0 => return Err(Error::Invalid("max must not be negative".into())),
        Some(m) => m,
    };
    Ok((first, max.min(MAX_PAGE)))
}

pub fn non_empty(params: &HashMap<String, String>, key: &str) -> Option<String> {
    params
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl UserQuery {
    /// A query of every user of the tenant, first page, Keycloak's defaults.
    pub fn all(tenant: &str) -> UserQuery {
        UserQuery {
            tenant: tenant.to_owned(),
            max: DEFAULT_PAGE,
            ..UserQuery::default()
        }
    }

    /// The filters of KOBIL's user lists: `limit` (default given), the 1-based page number
    /// `offset` or `pageNumber`, `isUserEnabled`, `isEmailVerified`, `firstName`,
    /// `lastName`, `email`, `username` (infix), `genericSearchVal` (infix over those four,
    /// which it then overrides), `orderBy` (asc, desc), `orderByKey`, and `from`/`to`
    /// (creation time).
    pub fn parse_kobil(
        tenant: &str,
        params: &HashMap<String, String>,
        default_size: i64,
    ) -> Result<(UserQuery, KobilPage), Error> {
        let size = match number(params, "limit")? {
            None => default_size,
            Some(l) if l < 1 => return Err(Error::Invalid("limit must be at least 1".into())),
            Some(l) => l.min(MAX_PAGE),
        };
        let page_number = match number(params, "offset")?.or(number(params, "pageNumber")?) {
            None => 1,
            Some(n) if n < 0 => {
                return Err(Error::Invalid(
                    "the page number must not be negative".into(),
                ));
            }
            // Page 0 is read as the first page.
            Some(n) => n.max(1),
        };
        let page = KobilPage {
            number: page_number,
            size,
        };
        let text = |key: &str| {
            non_empty(params, key).map(|value| TextFilter {
                value,
                exact: false,
            })
        };
        let generic = non_empty(params, "genericSearchVal");
        let order = UserOrder {
            key: match non_empty(params, "orderByKey") {
                Some(k) => OrderKey::parse(&k)?,
                None => OrderKey::Username,
            },
            descending: direction(params.get("orderBy").map(String::as_str).unwrap_or(""))?,
        };
        let mut query = UserQuery {
            enabled: flag(params, "isUserEnabled")?,
            email_verified: flag(params, "isEmailVerified")?,
            created_from: number(params, "from")?,
            created_to: number(params, "to")?,
            order,
            first: page.offset(),
            max: size,
            ..UserQuery::all(tenant)
        };
        match generic {
            Some(term) => query.search = Some(SearchTerm::Infix(term)),
            None => {
                query.username = text("username");
                query.email = text("email");
                query.first_name = text("firstName");
                query.last_name = text("lastName");
            }
        }
        Ok((query, page))
    }

    pub fn parse(tenant: &str, params: &HashMap<String, String>) -> Result<UserQuery, Error> {
        let exact = flag(params, "exact")?.unwrap_or(false);
        let text = |key: &str| {
            params
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(|v| TextFilter {
                    value: v.to_owned(),
                    exact,
                })
        };
        let mut attributes = Vec::new();
        if let Some(q) = params.get("q") {
            for pair in q.split_whitespace() {
                let (name, value) = pair.split_once(':').ok_or_else(|| {
                    Error::Invalid(format!("q: expected name:value pairs, got {pair:?}"))
                })?;
                if name.is_empty() {
                    return Err(Error::Invalid("q: an attribute name is empty".into()));
                }
                attributes.push((name.to_owned(), value.to_owned()));
            }
        }
        let (first, max) = first_max(params, DEFAULT_PAGE)?;
        let order = match params
            .get("sort")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            None => UserOrder::default(),
            Some(sort) => {
                let (key, dir) = sort.split_once(':').unwrap_or((sort, "asc"));
                UserOrder {
                    key: OrderKey::parse(key)?,
                    descending: direction(dir)?,
                }
            }
        };
        let group_names = params.get("groups").map(|g| {
            g.split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect::<Vec<_>>()
        });
        Ok(UserQuery {
            tenant: tenant.to_owned(),
            search: params.get("search").map(|s| SearchTerm::parse(s)),
            username: text("username"),
            email: text("email"),
            first_name: text("firstName"),
            last_name: text("lastName"),
            enabled: flag(params, "enabled")?,
            email_verified: flag(params, "emailVerified")?,
            attributes,
            created_from: number(params, "createdTimeStart")?,
            created_to: number(params, "createdTimeEnd")?,
            realm_role: None,
            client_role: None,
            group_ids: None,
            group_names: group_names.filter(|g| !g.is_empty()),
            admins_only: false,
            role_filter: non_empty(params, "filterForRole"),
            include_roles_for_client: non_empty(params, "includeRolesForClient"),
            order,
            include_service_accounts: false,
            brief: flag(params, "briefRepresentation")?.unwrap_or(false),
            matches_nobody: params.contains_key("idpAlias") || params.contains_key("idpUserId"),
            first,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn search_terms_follow_keycloak() {
        assert_eq!(SearchTerm::parse("*"), SearchTerm::All);
        assert_eq!(SearchTerm::parse("ali"), SearchTerm::Prefix("ali".into()));
        assert_eq!(SearchTerm::parse("ali*"), SearchTerm::Prefix("ali".into()));
        assert_eq!(SearchTerm::parse("*lic*"), SearchTerm::Infix("lic".into()));
        assert_eq!(
            SearchTerm::parse("\"alice\""),
            SearchTerm::Exact("alice".into())
        );
    }

    #[test]
    fn parameters_are_parsed_and_bounded() {
        let q = UserQuery::parse(
            "acme",
            &params(&[
                ("username", "Bob"),
                ("exact", "true"),
                ("q", "dept:sales level:3"),
                ("max", "5000"),
                ("briefRepresentation", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(q.username.as_ref().unwrap().value, "Bob");
        assert!(q.username.unwrap().exact);
        assert_eq!(q.attributes.len(), 2);
        assert_eq!(q.max, MAX_PAGE);
        assert!(q.brief);
        assert_eq!(
            UserQuery::parse("t", &params(&[])).unwrap().max,
            DEFAULT_PAGE
        );
        let sorted =
            UserQuery::parse("t", &params(&[("sort", "email:desc"), ("groups", "a, b")])).unwrap();
        assert_eq!(
            sorted.order,
            UserOrder {
                key: OrderKey::Email,
                descending: true
            }
        );
        assert_eq!(sorted.group_names.unwrap(), vec!["a", "b"]);
        for bad in [
            ("first", "-1"),
            ("max", "x"),
            ("enabled", "maybe"),
            ("q", "novalue"),
            ("sort", "password:asc"),
            ("sort", "username:up"),
        ] {
            assert!(UserQuery::parse("t", &params(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kobil_lists_page_by_number() {
        let (q, page) = UserQuery::parse_kobil(
            "t",
            &params(&[
                ("offset", "3"),
                ("limit", "5"),
                ("orderBy", "DESC"),
                ("orderByKey", "lastname"),
                ("firstName", "bo"),
                ("isUserEnabled", "true"),
            ]),
            KOBIL_DEFAULT_PAGE,
        )
        .unwrap();
        assert_eq!((q.first, q.max), (10, 5));
        assert_eq!(
            q.order,
            UserOrder {
                key: OrderKey::LastName,
                descending: true
            }
        );
        assert_eq!(q.first_name.unwrap().value, "bo");
        assert_eq!(q.enabled, Some(true));
        assert_eq!(page.describe(11)["totalPages"], 3);
        let (q, page) = UserQuery::parse_kobil(
            "t",
            &params(&[
                ("genericSearchVal", "doe"),
                ("firstName", "x"),
                ("limit", "5000"),
            ]),
            KOBIL_DEFAULT_PAGE,
        )
        .unwrap();
        assert_eq!(q.search, Some(SearchTerm::Infix("doe".into())));
        assert!(q.first_name.is_none());
        assert_eq!((page.number, page.size, q.first), (1, MAX_PAGE, 0));
        for bad in [
            ("limit", "0"),
            ("offset", "-2"),
            ("orderBy", "up"),
            ("orderByKey", "id"),
        ] {
            assert!(
                UserQuery::parse_kobil("t", &params(&[bad]), KOBIL_DEFAULT_PAGE).is_err(),
                "{bad:?}"
            );
        }
    }
}
