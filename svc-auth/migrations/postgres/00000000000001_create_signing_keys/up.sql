CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    private_key_encrypted TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active_from BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX signing_keys_tenant ON signing_keys (tenant, active_from);
