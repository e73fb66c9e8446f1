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

diesel::table! {
    /// Realm roles; `attributes` is Keycloak's name -> [values] map as JSON text.
    realm_roles (id) {
        id -> Text,
        tenant_id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        attributes -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// A composite realm role -> a realm role it contains.
    realm_role_composites (parent_id, child_id) {
        parent_id -> Text,
        child_id -> Text,
    }
}

diesel::table! {
    /// The realm's key-value settings (the representation's `attributes`): key -> JSON value.
    tenant_settings (tenant_id, name) {
        tenant_id -> Text,
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    /// Progress of a KOBIL tenant creation; `steps` is JSON text: step -> status.
    tenant_creations (tenant_id) {
        tenant_id -> Text,
        admin_username -> Text,
        admin_email -> Text,
        admin_user_id -> Nullable<Text>,
        default_app_id -> Nullable<Text>,
        steps -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// A tenant's own SMTP server; the password is sealed (`smtp-password:<tenant name>`).
    mail_configs (tenant_id) {
        tenant_id -> Text,
        host -> Text,
        port -> Integer,
        from_address -> Text,
        from_display_name -> Nullable<Text>,
        reply_to -> Nullable<Text>,
        reply_to_display_name -> Nullable<Text>,
        envelope_from -> Nullable<Text>,
        ssl -> Bool,
        starttls -> Bool,
        auth -> Bool,
        username -> Nullable<Text>,
        password_sealed -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// Mails waiting to be sent (PENDING), sent (SENT, parameters dropped) or given up (FAILED).
    mail_outbox (id) {
        id -> Text,
        tenant_id -> Text,
        template -> Text,
        recipient -> Text,
        params_sealed -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_at -> Nullable<BigInt>,
        claim_token -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(tenant_attributes -> tenants (tenant_id));
diesel::joinable!(realm_roles -> tenants (tenant_id));
diesel::joinable!(tenant_settings -> tenants (tenant_id));
diesel::joinable!(tenant_creations -> tenants (tenant_id));
diesel::joinable!(mail_configs -> tenants (tenant_id));
diesel::joinable!(mail_outbox -> tenants (tenant_id));
diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    tenant_attributes,
    realm_roles,
    realm_role_composites,
    tenant_settings,
    tenant_creations,
    mail_configs,
    mail_outbox
);
