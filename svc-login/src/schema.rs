// The diesel schema of this service's tables (its own Postgres schema / SQLite file).

diesel::table! {
    /// Every secret a user proves: a bcrypt hash (password) or a sealed TOTP seed (otp).
    credentials (id) {
        id -> Text,
        tenant -> Text,
        user_id -> Text,
        credential_type -> Text,
        secret_data -> Text,
        temporary -> Bool,
        user_label -> Nullable<Text>,
        created_date -> BigInt,
        /// Keycloak's credentialData: the OTP parameters (digits, period, algorithm).
        credential_data -> Nullable<Text>,
        /// Successful logins with this credential since it was set (NEVIS).
        login_count -> BigInt,
        last_login_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Hashes of earlier passwords, for the policy's passwordHistory(n).
    password_history (id) {
        id -> Text,
        tenant -> Text,
        user_id -> Text,
        hash -> Text,
        created_date -> BigInt,
    }
}

diesel::table! {
    /// The last successful login and password change of each user.
    login_facts (tenant, user_id) {
        tenant -> Text,
        user_id -> Text,
        last_login_at -> Nullable<BigInt>,
        last_password_change_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Accounts locked for good by permanentLockout, until an admin clears them.
    permanent_lockouts (tenant, user_id) {
        tenant -> Text,
        user_id -> Text,
        locked_at -> BigInt,
    }
}

diesel::table! {
    /// Login attempts and other security events.
    security_events (id) {
        id -> Text,
        tenant -> Text,
        user_id -> Nullable<Text>,
        event_type -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// FOLIO password reset actions, keyed by the SHA-256 of their id (a bearer secret).
    password_reset_actions (id_hash) {
        id_hash -> Text,
        tenant -> Text,
        user_id -> Text,
        expires_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    credentials,
    password_reset_actions,
    password_history,
    login_facts,
    permanent_lockouts,
    security_events,
);
