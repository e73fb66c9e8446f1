// The diesel schema of svc-auth's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Per-tenant signing keys; the private half sealed with the key-encryption key.
    signing_keys (kid) {
        kid -> Text,
        tenant -> Text,
        algorithm -> Text,
        private_key_sealed -> Text,
        public_jwk -> Text,
        public_key_der -> Text,
        created_at -> BigInt,
        active_from -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}
