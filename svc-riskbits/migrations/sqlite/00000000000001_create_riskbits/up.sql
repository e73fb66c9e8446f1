-- Device risk ratings: one per rating level and tenant. The score range is kept as two
-- integers so a score lookup is a range test on an index, not string parsing.
CREATE TABLE riskbits (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    rating_level TEXT NOT NULL,
    score_low INTEGER NOT NULL,
    score_high INTEGER NOT NULL,
    risk TEXT NOT NULL,
    -- The risk names as the client sent them (trimmed, comma-joined); NULL when none.
    risk_android TEXT,
    risk_ios TEXT,
    operation TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant, rating_level)
);

CREATE INDEX riskbits_by_score ON riskbits (tenant, score_low, score_high);

-- One row per risk name of a riskbit's platform list, written with the riskbit: device risk
-- verification looks a name up here instead of scanning every riskbit's list.
CREATE TABLE riskbit_risk_names (
    riskbit_id TEXT NOT NULL REFERENCES riskbits (id) ON DELETE CASCADE,
    tenant TEXT NOT NULL,
    platform TEXT NOT NULL,
    risk_name TEXT NOT NULL,
    PRIMARY KEY (riskbit_id, platform, risk_name)
);

CREATE INDEX riskbit_risk_names_lookup ON riskbit_risk_names (tenant, platform, risk_name);
