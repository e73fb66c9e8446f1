// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Device risk ratings: one per rating level and tenant, with its score range.
    riskbits (id) {
        id -> Text,
        tenant -> Text,
        rating_level -> Text,
        score_low -> Integer,
        score_high -> Integer,
        operation -> Text,
        created_at -> BigInt,
    }
}
