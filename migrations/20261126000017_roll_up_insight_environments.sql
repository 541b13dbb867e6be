-- Insight's days per environment (all services), so the team's and an environment's report read
-- one row per environment and day instead of one per service too (issue 14's 180-day budget).
-- Kept by `insight_refresh_day`, which now also moves this row by the difference it made to its
-- (service, environment, day) row: increments, so writers of different services in the same
-- environment never overwrite each other.

create table insight_env_days (
    environment_id bigint not null references environments (id) on delete cascade,
    day            date not null,
    deployments    integer not null default 0,
    live           integer not null default 0,
    failing        integer not null default 0,
    reworked       integer not null default 0,
    constraint insight_env_days_pkey primary key (environment_id, day)
);

create or replace function insight_refresh_day(svc bigint, env bigint, d date) returns void
language plpgsql as $$
declare
    before insight_days;
    after insight_days;
begin
    select * into before from insight_days where service_id = svc and environment_id = env and day = d;
    delete from insight_days where service_id = svc and environment_id = env and day = d;
    insert into insight_days (service_id, environment_id, day, deployments, live, failing, reworked)
    select svc, env, d, count(*),
           count(*) filter (where x.status in ('succeeded', 'rolled_back')),
           count(f.deployment_id),
           count(*) filter (where x.hotfix or x.status = 'rolled_back')
    from deployments x
    left join insight_failures f on f.deployment_id = x.id
    where x.service_id = svc and x.environment_id = env
      and x.started_at >= d::timestamp at time zone 'UTC'
      and x.started_at < (d + 1)::timestamp at time zone 'UTC'
      and x.status in ('succeeded', 'failed', 'rolled_back')
    having count(*) > 0
    returning * into after;
    if (before.deployments, before.live, before.failing, before.reworked)
       is distinct from (after.deployments, after.live, after.failing, after.reworked) then
        insert into insight_env_days as t (environment_id, day, deployments, live, failing, reworked)
        values (env, d,
                coalesce(after.deployments, 0) - coalesce(before.deployments, 0),
                coalesce(after.live, 0) - coalesce(before.live, 0),
                coalesce(after.failing, 0) - coalesce(before.failing, 0),
                coalesce(after.reworked, 0) - coalesce(before.reworked, 0))
        on conflict on constraint insight_env_days_pkey do update
            set deployments = t.deployments + excluded.deployments,
                live = t.live + excluded.live,
                failing = t.failing + excluded.failing,
                reworked = t.reworked + excluded.reworked;
    end if;
end
$$;

insert into insight_env_days (environment_id, day, deployments, live, failing, reworked)
select environment_id, day, sum(deployments), sum(live), sum(failing), sum(reworked)
from insight_days group by 1, 2;
