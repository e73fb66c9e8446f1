// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Per-tenant signing keys; the private half encrypted with the key-encryption key.
    signing_keys (kid) {
        kid -> Text,
        tenant -> Text,
        algorithm -> Text,
        private_key_encrypted -> Text,
        public_jwk -> Text,
        created_at -> BigInt,
        active_from -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}
