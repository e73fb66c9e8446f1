// The diesel schema of svc-apps' tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Apps (OAuth clients); `client_id` is unique per tenant, `id` is the internal UUID.
    apps (id) {
        id -> Text,
        tenant -> Text,
        client_id -> Text,
        enabled -> Bool,
        public_client -> Bool,
        bearer_only -> Bool,
        standard_flow_enabled -> Bool,
        implicit_flow_enabled -> Bool,
        direct_access_grants_enabled -> Bool,
        service_accounts_enabled -> Bool,
        secret_sealed -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    app_redirect_uris (app_id, uri) {
        app_id -> Text,
        uri -> Text,
    }
}

diesel::table! {
    app_web_origins (app_id, origin) {
        app_id -> Text,
        origin -> Text,
    }
}

diesel::table! {
    /// The rest of an app's client representation: top-level key -> JSON value.
    app_attributes (app_id, name) {
        app_id -> Text,
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    /// Client roles.
    app_roles (id) {
        id -> Text,
        app_id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        attributes -> Text,
    }
}

diesel::joinable!(app_redirect_uris -> apps (app_id));
diesel::joinable!(app_web_origins -> apps (app_id));
diesel::joinable!(app_attributes -> apps (app_id));
diesel::joinable!(app_roles -> apps (app_id));
diesel::allow_tables_to_appear_in_same_query!(
    apps,
    app_redirect_uris,
    app_web_origins,
    app_attributes,
    app_roles
);
