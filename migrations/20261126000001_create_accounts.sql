-- Accounts, invites, the first-run setup token, login throttling and the audit log.

create table accounts (
    id            bigint generated always as identity primary key,
    handle        text not null,
    email         text,
    display_name  text not null,
    timezone      text not null default 'UTC',
    role          text not null,
    password_hash text not null,
    -- Bumped when a password changes or an account is disabled: every older session ends.
    auth_epoch    integer not null default 0,
    disabled_at   timestamptz,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint accounts_role_check check (role in ('member', 'lead', 'admin')),
    constraint accounts_handle_format check (handle ~ '^[a-z0-9][a-z0-9_-]{1,31}$'),
    constraint accounts_display_name_length check (char_length(display_name) between 1 and 100),
    constraint accounts_email_format check (email is null or email ~ '^[^@\s]+@[^@\s]+$')
);
create unique index accounts_handle_key on accounts (handle);
create unique index accounts_email_key on accounts (lower(email));

create table invites (
    id          bigint generated always as identity primary key,
    token_hash  bytea not null,
    role        text not null,
    email       text,
    note        text not null default '',
    created_by  bigint not null references accounts (id),
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    accepted_at timestamptz,
    accepted_by bigint references accounts (id),
    revoked_at  timestamptz,
    constraint invites_token_hash_key unique (token_hash),
    constraint invites_role_check check (role in ('member', 'lead', 'admin')),
    constraint invites_expiry_after_creation check (expires_at > created_at)
);
create index invites_created_idx on invites (created_at desc, id desc);

-- At most one pending first-run setup token; it is only valid while no account exists.
create table setup_tokens (
    id         smallint primary key default 1,
    token_hash bytea not null,
    created_at timestamptz not null default now(),
    constraint setup_tokens_single_row check (id = 1)
);

create table login_failures (
    id          bigint generated always as identity primary key,
    account_key text not null,
    ip          text not null,
    at          timestamptz not null default now()
);
create index login_failures_account_idx on login_failures (account_key, at);
create index login_failures_ip_idx on login_failures (ip, at);

create table audit_log (
    id          bigint generated always as identity primary key,
    at          timestamptz not null default now(),
    actor_id    bigint references accounts (id),
    actor       text not null,
    action      text not null,
    target_type text not null,
    target_id   text,
    before      jsonb,
    after       jsonb,
    request_id  text
);
create index audit_log_target_idx on audit_log (target_type, target_id, id desc);
create index audit_log_actor_idx on audit_log (actor_id, id desc);
