-- GitHub webhooks (issue 12): a secret per repository, every verified delivery stored before it
-- is processed (deduplicated by GitHub's delivery id), and merged pull requests as change records.

create table github_hooks (
    repository_id bigint primary key references repositories (id),
    -- HMAC key GitHub signs with; needed in clear to verify, never shown again in full.
    secret        text not null,
    created_at    timestamptz not null default now(),
    created_by    bigint references accounts (id),
    constraint github_hooks_secret_length check (char_length(secret) between 16 and 200)
);

create table github_deliveries (
    id            bigint generated always as identity primary key,
    delivery_id   text not null,
    event         text not null,
    repository_id bigint references repositories (id),
    payload       jsonb not null,
    received_at   timestamptz not null default now(),
    status        text not null default 'pending',
    outcome       text not null default '',
    processed_at  timestamptz,
    leased_until  timestamptz,
    attempts      integer not null default 0,
    constraint github_deliveries_delivery_key unique (delivery_id),
    constraint github_deliveries_status_check
        check (status in ('pending', 'applied', 'ignored', 'refused'))
);
create index github_deliveries_pending_idx on github_deliveries (received_at) where status = 'pending';
create index github_deliveries_list_idx on github_deliveries (id desc);

create table change_records (
    repository_id bigint not null references repositories (id),
    number        integer not null,
    title         text not null,
    author        text not null,
    merge_sha     text not null,
    opened_at     timestamptz not null,
    merged_at     timestamptz not null,
    primary key (repository_id, number)
);
create index change_records_merged_idx on change_records (repository_id, merged_at desc);
