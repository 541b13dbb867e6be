-- Insight (issue 14): what DORA's keys need that was not recorded — a deployment made because of
-- an incident (hotfix), and how an incident is attributed to the deployment that caused it.

alter table deployments add column hotfix boolean not null default false;

-- explicit: `deployment_id` names the cause (given when opened, or set by a lead);
-- default: the latest production deployment of the service before it, within the window;
-- none: a lead said no deployment caused it.
alter table incidents
    add column attribution text not null default 'default',
    add constraint incidents_attribution_check check (attribution in ('default', 'explicit', 'none'));
update incidents set attribution = 'explicit' where deployment_id is not null;

-- The insight queries: production deployments of a window by service, incidents by time.
create index deployments_started_idx on deployments (environment_id, started_at, service_id);
create index deployments_service_started_idx on deployments (service_id, started_at);
create index incidents_opened_idx on incidents (opened_at);
create index change_records_merged_at_idx on change_records (merged_at);

-- The deployment an incident is attributed to: the explicit one, none, or by default the latest
-- production deployment of its service in its (production) environment that went live before it
-- opened, within `days`. One definition for the incident page and for insight.
create function incident_cause(i incidents, days integer) returns bigint
language sql stable as $$
    select case i.attribution
        when 'explicit' then i.deployment_id
        when 'none' then null
        else (select d.id from deployments d join environments e on e.id = d.environment_id
              where d.service_id = i.service_id and d.environment_id = i.environment_id
                and e.tier = 'production' and d.status in ('succeeded', 'rolled_back')
                and d.started_at <= i.opened_at
                and d.started_at > i.opened_at - make_interval(days => days)
              order by d.started_at desc, d.id desc limit 1)
    end
$$;

-- The cause is kept on the incident (computed by `incident_cause` when it opens and whenever its
-- attribution changes), so reports read a column instead of calling the function per row.
alter table incidents add column caused_by bigint references deployments (id);
update incidents set caused_by = incident_cause(incidents, 7);
create index incidents_caused_by_idx on incidents (caused_by) where caused_by is not null;

-- Which production deployment of each service first shipped each change (merged pull request):
-- lead time's rows, kept as deployments go live and as change records arrive.
create table change_deployments (
    repository_id bigint not null,
    number        integer not null,
    service_id    bigint not null references services (id) on delete cascade,
    deployment_id bigint not null references deployments (id) on delete cascade,
    merged_at     timestamptz not null,
    deployed_at   timestamptz not null,
    primary key (repository_id, number, service_id),
    foreign key (repository_id, number) references change_records (repository_id, number) on delete cascade
);
create index change_deployments_deployed_idx on change_deployments (deployed_at);
-- Across services a change counts once, at the first production deployment that shipped it.
alter table change_records
    add column first_deployment_id bigint references deployments (id) on delete set null,
    add column first_deployed_at timestamptz;
create index change_records_first_deployed_idx on change_records (first_deployed_at)
    where first_deployed_at is not null;

-- A production deployment that went live ships the changes of its service's repository merged
-- since the service's previous production deployment started. The first deployment a service
-- ever had ships nothing: it has no predecessor and would absorb all earlier history.
create function ship_changes(dep bigint) returns void language sql as $$
    with shipped as (
    insert into change_deployments (repository_id, number, service_id, deployment_id, merged_at, deployed_at)
    select c.repository_id, c.number, d.service_id, d.id, c.merged_at, coalesce(d.finished_at, d.started_at)
    from deployments d
    join environments e on e.id = d.environment_id and e.tier = 'production'
    join services s on s.id = d.service_id
    cross join lateral (
        select max(p.started_at) as started_at
        from deployments p join environments pe on pe.id = p.environment_id
        where p.service_id = d.service_id and pe.tier = 'production'
          and p.status in ('succeeded', 'rolled_back') and p.started_at < d.started_at
    ) prev
    join change_records c on c.repository_id = s.repository_id
        and c.merged_at <= d.started_at and c.merged_at > prev.started_at
    where d.id = dep and d.status in ('succeeded', 'rolled_back')
    on conflict do nothing
    returning repository_id, number, deployment_id, deployed_at
    )
    update change_records c set first_deployment_id = s.deployment_id, first_deployed_at = s.deployed_at
    from shipped s
    where c.repository_id = s.repository_id and c.number = s.number
      and (c.first_deployed_at is null or c.first_deployed_at > s.deployed_at)
$$;

-- A change record that arrives after the deployment that shipped it links to it.
create function link_change(repo bigint, num integer) returns void language sql as $$
    with linked as (
    insert into change_deployments (repository_id, number, service_id, deployment_id, merged_at, deployed_at)
    select c.repository_id, c.number, s.id, f.id, c.merged_at, f.deployed_at
    from change_records c
    join services s on s.repository_id = c.repository_id
    cross join lateral (
        select d.id, coalesce(d.finished_at, d.started_at) as deployed_at
        from deployments d join environments e on e.id = d.environment_id
        where d.service_id = s.id and e.tier = 'production' and d.status in ('succeeded', 'rolled_back')
          and d.started_at >= c.merged_at
          and exists (select 1 from deployments p join environments pe on pe.id = p.environment_id
                      where p.service_id = s.id and pe.tier = 'production'
                        and p.status in ('succeeded', 'rolled_back') and p.started_at < d.started_at)
        order by d.started_at limit 1
    ) f
    where c.repository_id = repo and c.number = num
    on conflict (repository_id, number, service_id) do update
        set deployment_id = excluded.deployment_id, merged_at = excluded.merged_at, deployed_at = excluded.deployed_at
        where change_deployments.deployed_at > excluded.deployed_at
    returning repository_id, number, deployment_id, deployed_at
    )
    update change_records c set first_deployment_id = f.deployment_id, first_deployed_at = f.deployed_at
    from (select distinct on (repository_id, number) * from linked
          order by repository_id, number, deployed_at) f
    where c.repository_id = f.repository_id and c.number = f.number
      and (c.first_deployed_at is null or c.first_deployed_at > f.deployed_at)
$$;
select link_change(repository_id, number) from change_records;
