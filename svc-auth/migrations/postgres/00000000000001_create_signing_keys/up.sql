-- Per-tenant signing keys. A key is published in JWKS from created_at, signs from active_from,
-- and stays published until retired_at (after every token it signed has expired).
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    public_key_der TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active_from BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX signing_keys_tenant ON signing_keys (tenant, active_from);
