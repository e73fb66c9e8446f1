// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Users; `username` and `email` are stored lower-cased, username unique per tenant.
    users (id) {
        id -> Text,
        tenant -> Text,
        username -> Text,
        email -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        first_name_lower -> Nullable<Text>,
        last_name_lower -> Nullable<Text>,
        enabled -> Bool,
        email_verified -> Bool,
        created_timestamp -> BigInt,
        not_before -> BigInt,
        service_account_client_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Multi-valued attributes, one row per value.
    user_attributes (id) {
        id -> Text,
        user_id -> Text,
        tenant -> Text,
        name -> Text,
        value -> Text,
        position -> Integer,
    }
}

diesel::table! {
    user_required_actions (user_id, action) {
        user_id -> Text,
        action -> Text,
    }
}

diesel::table! {
    /// Realm roles granted to a user directly.
    user_realm_roles (user_id, role_name) {
        user_id -> Text,
        tenant -> Text,
        role_name -> Text,
    }
}

diesel::table! {
    /// Client roles granted to a user directly.
    user_client_roles (user_id, app_id, role_name) {
        user_id -> Text,
        tenant -> Text,
        app_id -> Text,
        client_id -> Text,
        role_name -> Text,
    }
}

diesel::table! {
    /// Groups: a tree per tenant, `path` unique per tenant.
    user_groups (id) {
        id -> Text,
        tenant -> Text,
        name -> Text,
        parent_id -> Nullable<Text>,
        path -> Text,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    group_realm_roles (group_id, role_name) {
        group_id -> Text,
        role_name -> Text,
    }
}

diesel::table! {
    group_client_roles (group_id, app_id, role_name) {
        group_id -> Text,
        app_id -> Text,
        client_id -> Text,
        role_name -> Text,
    }
}

diesel::table! {
    /// Multi-valued group attributes, one row per value.
    group_attributes (group_id, name, position) {
        group_id -> Text,
        name -> Text,
        position -> Integer,
        value -> Text,
    }
}

diesel::table! {
    /// KOBIL's postal addresses of a user; at most one default per user.
    user_addresses (id) {
        id -> Text,
        tenant -> Text,
        user_id -> Text,
        /// The address fields as a JSON object (text).
        fields -> Text,
        default_address -> Bool,
        created_timestamp -> BigInt,
    }
}

diesel::joinable!(group_members -> user_groups (group_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_attributes,
    user_required_actions,
    user_realm_roles,
    user_client_roles,
    user_groups,
    group_members,
    group_realm_roles,
    group_client_roles,
    group_attributes,
    user_addresses,
);
