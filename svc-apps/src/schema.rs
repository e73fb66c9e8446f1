// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Apps (OAuth clients); `client_id` is unique per tenant, `id` is the internal UUID.
    apps (id) {
        id -> Text,
        tenant -> Text,
        client_id -> Text,
        name -> Nullable<Text>,
        enabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}
