// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// What users prove: bcrypt password hashes, TOTP seeds. Never leaves the service.
    credentials (id) {
        id -> Text,
        tenant -> Text,
        user_id -> Text,
        credential_type -> Text,
        secret_data -> Text,
        created_date -> BigInt,
        user_label -> Nullable<Text>,
    }
}
