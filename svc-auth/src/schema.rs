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

diesel::table! {
    /// Logins; `revoked_at` set when the session ends.
    sessions (id) {
        id -> Text,
        tenant -> Text,
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        last_refresh_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        /// The browser sign-in (SSO session) this session was started from, if any.
        browser_session_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Refresh tokens by SHA-256; `spent_at` set when rotated.
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        spent_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Browser sign-ins (SSO sessions) by the SHA-256 of their cookie; `ended_at` set at logout.
    browser_sessions (id) {
        id -> Text,
        cookie_hash -> Text,
        tenant -> Text,
        user_id -> Text,
        created_at -> BigInt,
        authenticated_at -> BigInt,
        last_seen_at -> BigInt,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    signing_keys,
    sessions,
    refresh_tokens,
    browser_sessions
);
