// The diesel schema of svc-tenants' tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Tenants (Keycloak realms), addressed by their unique name.
    tenants (id) {
        id -> Text,
        name -> Text,
        enabled -> Bool,
        not_before -> BigInt,
        creation_status -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// The rest of a tenant's realm representation: top-level key -> JSON value.
    tenant_attributes (tenant_id, name) {
        tenant_id -> Text,
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(tenant_attributes -> tenants (tenant_id));
diesel::allow_tables_to_appear_in_same_query!(tenants, tenant_attributes);
