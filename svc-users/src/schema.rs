// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Users; `username` is stored lower-cased and unique per tenant.
    users (id) {
        id -> Text,
        tenant -> Text,
        username -> Text,
        email -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        enabled -> Bool,
        email_verified -> Bool,
        created_timestamp -> BigInt,
    }
}
