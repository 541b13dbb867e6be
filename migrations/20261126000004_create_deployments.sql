-- Deployment state: services, environments, deployments (and what runs where), images, health
-- targets and samples, incidents.

create table services (
    id              bigint generated always as identity primary key,
    name            text not null,
    role            text not null,
    repository_id   bigint references repositories (id),
    owner_id        bigint not null references accounts (id),
    image           text not null default '',
    supervisor      text not null default 'kubernetes',
    probe_interval_seconds integer not null default 30,
    probe_timeout_seconds  integer not null default 10,
    probe_failures  integer not null default 5,
    created_at      timestamptz not null default now(),
    constraint services_name_key unique (name),
    constraint services_name_format check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    constraint services_role_format check (role ~ '^[a-z][a-z0-9-]{0,31}$'),
    constraint services_supervisor_check
        check (supervisor in ('systemd', 'supervisord', 'compose', 'kubernetes')),
    constraint services_probe_check check (probe_interval_seconds between 1 and 86400
        and probe_timeout_seconds between 1 and 300 and probe_failures between 1 and 100)
);

create table environments (
    id         bigint generated always as identity primary key,
    name       text not null,
    tier       text not null,
    position   integer not null default 0,
    url        text not null default '',
    created_at timestamptz not null default now(),
    constraint environments_name_key unique (name),
    constraint environments_name_format check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    constraint environments_tier_check
        check (tier in ('development', 'testing', 'staging', 'production', 'offline'))
);

create table deployments (
    id              bigint generated always as identity primary key,
    service_id      bigint not null references services (id),
    environment_id  bigint not null references environments (id),
    version         text not null,
    image_ref       text not null default '',
    digest          text not null default '',
    status          text not null,
    started_at      timestamptz not null,
    finished_at     timestamptz,
    actor_id        bigint references accounts (id),
    actor           text not null,
    source          text not null,
    commit_sha      text not null default '',
    note            text not null default '',
    idempotency_key text,
    created_at      timestamptz not null default now(),
    constraint deployments_status_check
        check (status in ('pending', 'running', 'succeeded', 'failed', 'rolled_back')),
    constraint deployments_source_check check (source in ('manual', 'api', 'webhook')),
    constraint deployments_idempotency_key_key unique (idempotency_key),
    constraint deployments_finished_check
        check ((status in ('succeeded', 'failed', 'rolled_back')) = (finished_at is not null))
);
create index deployments_history_idx on deployments (id desc);
create index deployments_cell_idx on deployments (service_id, environment_id, id desc);
create index deployments_env_idx on deployments (environment_id, id desc);

-- What runs where: the latest succeeded deployment of each service in each environment, kept in
-- the transaction that changes a deployment's status.
create table current_deployments (
    service_id     bigint not null references services (id),
    environment_id bigint not null references environments (id),
    deployment_id  bigint not null references deployments (id),
    primary key (service_id, environment_id)
);

create table images (
    id          bigint generated always as identity primary key,
    service_id  bigint not null references services (id),
    version     text not null,
    registry    text not null,
    arch        text not null,
    digest      text not null,
    recorded_at timestamptz not null default now(),
    constraint images_key unique (service_id, version, registry, arch),
    constraint images_digest_format check (digest ~ '^sha256:[0-9a-f]{64}$')
);

create table health_targets (
    service_id           bigint not null references services (id),
    environment_id       bigint not null references environments (id),
    url                  text not null,
    status               text not null default 'unknown',
    consecutive_failures integer not null default 0,
    last_checked_at      timestamptz,
    next_probe_at        timestamptz not null default now(),
    -- Which flowdeck instance holds the probe, until when (one prober per target).
    leased_by            text,
    leased_until         timestamptz,
    primary key (service_id, environment_id),
    constraint health_targets_status_check check (status in ('up', 'down', 'unknown'))
);
create index health_targets_due_idx on health_targets (next_probe_at);

create table health_samples (
    id             bigint generated always as identity primary key,
    service_id     bigint not null references services (id),
    environment_id bigint not null references environments (id),
    at             timestamptz not null,
    ok             boolean not null,
    latency_ms     integer,
    error          text not null default '',
    -- 'probe' (the prober) or 'report' (a site that cannot be reached reports itself).
    source         text not null default 'probe',
    constraint health_samples_source_check check (source in ('probe', 'report'))
);
create index health_samples_target_idx on health_samples (service_id, environment_id, at desc);

-- Samples older than 14 days are folded into one row per target and day.
create table health_daily (
    service_id     bigint not null references services (id),
    environment_id bigint not null references environments (id),
    day            date not null,
    checks         integer not null,
    failures       integer not null,
    avg_latency_ms integer,
    primary key (service_id, environment_id, day)
);

create table incidents (
    id             bigint generated always as identity primary key,
    service_id     bigint not null references services (id),
    environment_id bigint not null references environments (id),
    severity       text not null,
    title          text not null,
    opened_at      timestamptz not null,
    resolved_at    timestamptz,
    deployment_id  bigint references deployments (id),
    opened_by      bigint references accounts (id),
    constraint incidents_severity_check check (severity in ('sev1', 'sev2', 'sev3', 'sev4')),
    constraint incidents_title_length check (char_length(title) between 1 and 200),
    constraint incidents_resolved_after_opened check (resolved_at is null or resolved_at >= opened_at)
);
create index incidents_open_idx on incidents (opened_at desc, id desc);
create index incidents_service_idx on incidents (service_id, opened_at desc);
