CREATE TABLE riskbits (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    rating_level TEXT NOT NULL,
    score_low INTEGER NOT NULL,
    score_high INTEGER NOT NULL,
    operation TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant, rating_level)
);
