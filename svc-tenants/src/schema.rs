// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Tenants (Keycloak realms), addressed by their unique name.
    tenants (id) {
        id -> Text,
        name -> Text,
        display_name -> Nullable<Text>,
        enabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}
