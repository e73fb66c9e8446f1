-- Prefix searches (`search=ali`, LIKE 'ali%') use these: a plain b-tree index serves LIKE only
-- in the C collation, text_pattern_ops in any.
CREATE INDEX users_tenant_username_prefix ON users (tenant, username text_pattern_ops);
CREATE INDEX users_tenant_email_prefix ON users (tenant, email text_pattern_ops);
CREATE INDEX users_tenant_first_prefix ON users (tenant, first_name_lower text_pattern_ops);
CREATE INDEX users_tenant_last_prefix ON users (tenant, last_name_lower text_pattern_ops);
