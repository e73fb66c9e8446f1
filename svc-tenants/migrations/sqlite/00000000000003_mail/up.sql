-- A tenant's own SMTP server (the platform's `mail` settings serve tenants without one). The
-- password is sealed with the key-encryption key (context `smtp-password:<tenant name>`).
CREATE TABLE mail_configs (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    from_address TEXT NOT NULL,
    from_display_name TEXT,
    reply_to TEXT,
    reply_to_display_name TEXT,
    envelope_from TEXT,
    ssl BOOLEAN NOT NULL,
    starttls BOOLEAN NOT NULL,
    auth BOOLEAN NOT NULL,
    username TEXT,
    password_sealed TEXT,
    updated_at BIGINT NOT NULL
);

-- Mails to send: a request only queues a row, the sender task delivers it, so no reply waits
-- on SMTP. A replica claims a row by setting claimed_at/claim_token where it was unclaimed (or
-- its claim is stale), so two replicas never send the same mail. The parameters (links with
-- one-time codes) are sealed (context `mail-params:<id>`) and dropped once sent; FAILED rows
-- stay for inspection.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    template TEXT NOT NULL,
    recipient TEXT NOT NULL,
    params_sealed TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_at BIGINT,
    claim_token TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);

CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_tenant ON mail_outbox (tenant_id);
