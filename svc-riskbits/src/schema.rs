// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Device risk ratings: one per rating level and tenant, with its score range.
    riskbits (id) {
        id -> Text,
        tenant -> Text,
        rating_level -> Text,
        score_low -> Integer,
        score_high -> Integer,
        risk -> Text,
        risk_android -> Nullable<Text>,
        risk_ios -> Nullable<Text>,
        operation -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// The verification index: one row per risk name of a riskbit's platform list.
    riskbit_risk_names (riskbit_id, platform, risk_name) {
        riskbit_id -> Text,
        tenant -> Text,
        platform -> Text,
        risk_name -> Text,
    }
}

diesel::joinable!(riskbit_risk_names -> riskbits (riskbit_id));
diesel::allow_tables_to_appear_in_same_query!(riskbits, riskbit_risk_names);
