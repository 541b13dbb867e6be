-- API tokens (issue 12): personal bearer tokens, stored only as a SHA-256, with scopes, an
-- expiry, the last use, and revocation; and the Idempotency-Key replay store of API writes.

create table api_tokens (
    id           bigint generated always as identity primary key,
    account_id   bigint not null references accounts (id),
    name         text not null,
    -- The first characters after `fdk_`, shown in lists so people can tell tokens apart.
    prefix       text not null,
    token_hash   bytea not null,
    scopes       text[] not null,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null,
    last_used_at timestamptz,
    last_used_ip text,
    revoked_at   timestamptz,
    created_by   bigint not null references accounts (id),
    constraint api_tokens_hash_key unique (token_hash),
    constraint api_tokens_name_length check (char_length(name) between 1 and 100),
    constraint api_tokens_scopes_check check (scopes <@ array['read', 'deployments:write',
        'releases:write', 'status:write', 'incidents:write']::text[] and cardinality(scopes) > 0)
);
create index api_tokens_account_idx on api_tokens (account_id, created_at desc);

-- A write sent with an Idempotency-Key: the first response, replayed byte for byte to the same
-- key with the same body; kept 24 hours.
create table api_idempotency (
    token_id     bigint not null references api_tokens (id),
    key          text not null,
    request_hash bytea not null,
    status       integer,
    body         bytea,
    created_at   timestamptz not null default now(),
    primary key (token_id, key),
    constraint api_idempotency_key_length check (char_length(key) between 1 and 200)
);
create index api_idempotency_created_idx on api_idempotency (created_at);
