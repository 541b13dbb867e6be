-- Deployment data people can trust (issue 11): history ordered by when a deployment happened,
-- corrections, who reported health by hand, and incidents with a timeline.

-- When a deployment happened: when it finished, else when it started. History, the home tile
-- and their keyset pages are ordered by it.
alter table deployments
    add column happened_at timestamptz generated always as (coalesce(finished_at, started_at)) stored,
    add column corrected_at timestamptz;
create index deployments_time_idx on deployments (happened_at desc, id desc);
create index deployments_service_time_idx on deployments (service_id, happened_at desc, id desc);
create index deployments_env_time_idx on deployments (environment_id, happened_at desc, id desc);

-- A manual health report names who made it; a probe result clears it.
alter table health_targets
    add column reported_by bigint references accounts (id),
    add column reported_at timestamptz;
alter table health_samples add column reported_by bigint references accounts (id);

-- Incidents: resolved with a note by someone; updates in between form the timeline.
alter table incidents
    add column resolved_by bigint references accounts (id),
    add column resolution text not null default '',
    add constraint incidents_resolution_length check (char_length(resolution) <= 2000);

create table incident_updates (
    id          bigint generated always as identity primary key,
    incident_id bigint not null references incidents (id),
    at          timestamptz not null,
    author_id   bigint references accounts (id),
    body        text not null,
    constraint incident_updates_body_length check (char_length(body) between 1 and 2000)
);
create index incident_updates_incident_idx on incident_updates (incident_id, at, id);
create index incidents_open_service_idx on incidents (service_id, (resolved_at is null), opened_at desc);
