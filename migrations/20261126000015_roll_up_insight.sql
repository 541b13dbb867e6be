-- Insight's rollups (issue 14's budget): kept up to date by triggers in the transaction that
-- writes a deployment, an incident or a change record, so `/insight` reads a few hundred rows
-- instead of every deployment of the window. The rows behind every number stay where they are.
--
-- * insight_failures: every deployment that needed intervention (failed, rolled back, or caused
--   an incident), why, and when service was restored — the rule `insight::model` documents.
-- * insight_days: per service, environment and UTC day, the deployments that reached a final
--   state, went live, failed (a row in insight_failures) and were rework (hotfix or rollback).
-- * insight_leads / insight_env_leads / insight_team_leads: lead-time histograms per day (5 %
--   buckets): per service and environment and per environment from change_deployments (a change
--   per service that shipped it), for the whole team from change_records (a change once).
--
-- Every environment is rolled up (a tier can change); insight reads the production ones.
-- A refresh recomputes one deployment's failure row and its day under an advisory lock per
-- (service, environment), so two writers of the same cell cannot overwrite each other's counts;
-- the histograms change by +1/-1, which needs no lock.

create table insight_failures (
    deployment_id  bigint primary key references deployments (id) on delete cascade,
    service_id     bigint not null references services (id) on delete cascade,
    environment_id bigint not null references environments (id) on delete cascade,
    started_at     timestamptz not null,
    why            text not null,
    restored_at    timestamptz
);
create index insight_failures_cell_idx on insight_failures (service_id, environment_id, started_at);
create index insight_failures_time_idx on insight_failures (started_at);
create index insight_failures_restored_idx on insight_failures (service_id, environment_id, restored_at);

create table insight_days (
    service_id     bigint not null references services (id) on delete cascade,
    environment_id bigint not null references environments (id) on delete cascade,
    day            date not null,
    deployments    integer not null,
    live           integer not null,
    failing        integer not null,
    reworked       integer not null,
    constraint insight_days_pkey primary key (service_id, environment_id, day)
);
create index insight_days_day_idx on insight_days (day);
create index insight_days_env_idx on insight_days (environment_id, day);

create table insight_leads (
    service_id     bigint not null references services (id) on delete cascade,
    environment_id bigint not null references environments (id) on delete cascade,
    day            date not null,
    bucket         smallint not null,
    n              integer not null,
    constraint insight_leads_pkey primary key (service_id, environment_id, day, bucket)
);

-- The same per environment (every service), so an environment's report reads one row per bucket
-- and day instead of one per service too.
create table insight_env_leads (
    environment_id bigint not null references environments (id) on delete cascade,
    day            date not null,
    bucket         smallint not null,
    n              integer not null,
    constraint insight_env_leads_pkey primary key (environment_id, day, bucket)
);

create table insight_team_leads (
    day    date not null,
    bucket smallint not null,
    n      integer not null,
    constraint insight_team_leads_pkey primary key (day, bucket)
);

create index change_deployments_service_idx on change_deployments (service_id, deployed_at);

-- The histogram bucket of a duration: 0 under a minute, then 5 % wide (bucket b ≥ 1 holds
-- 1.05^(b-1) ≤ minutes < 1.05^b). `insight::model::bucket_hours` is its inverse.
create function insight_bucket(from_at timestamptz, to_at timestamptz) returns smallint
language sql immutable as $$
    select case when extract(epoch from to_at - from_at) < 60 then 0
                else least(1 + floor(ln(extract(epoch from to_at - from_at) / 60.0) / ln(1.05)), 32000)
           end::smallint
$$;

-- When the next deployment of (svc, env) that went live after `after` took effect; never the
-- failing deployment itself (started at `dep_start`).
create function insight_next_live(svc bigint, env bigint, after timestamptz, dep_start timestamptz)
returns timestamptz language sql stable as $$
    select greatest(coalesce(n.finished_at, n.started_at), n.started_at)
    from deployments n
    where n.service_id = svc and n.environment_id = env
      and n.status in ('succeeded', 'rolled_back')
      and n.started_at >= after and (n.started_at > dep_start or after > dep_start)
    order by n.started_at, n.id
    limit 1
$$;

-- Serialises the refreshes of one (service, environment) until the transaction ends.
create function insight_lock(svc bigint, env bigint) returns void language sql as $$
    select pg_advisory_xact_lock(1409, hashtext(svc::text || ':' || env::text))
$$;

-- Recomputes whether deployment `dep` needed intervention, why, and when service came back.
create function insight_refresh_failure(dep bigint) returns void language plpgsql as $$
declare
    d deployments;
    why text;
    restored timestamptz;
    open_ends integer;
begin
    select * into d from deployments where id = dep;
    if not found then
        delete from insight_failures where deployment_id = dep;
        return;
    end if;
    if d.status = 'failed' then
        why := 'failed';
        restored := insight_next_live(d.service_id, d.environment_id, d.started_at, d.started_at);
    elsif d.status = 'rolled_back' then
        why := 'rolled back';
        restored := d.finished_at;
    elsif d.status = 'succeeded' then
        select 'caused ' || string_agg('incident #' || i.id, ', ' order by i.opened_at, i.id),
               max(e.ended_at), count(*) filter (where e.ended_at is null)
        into why, restored, open_ends
        from incidents i
        cross join lateral (
            select insight_next_live(d.service_id, d.environment_id, i.opened_at, d.started_at) as next_at
        ) nl
        cross join lateral (
            select case when i.resolved_at is not null and nl.next_at is not null then least(i.resolved_at, nl.next_at)
                        else coalesce(i.resolved_at, nl.next_at) end as ended_at
        ) e
        where i.caused_by = d.id;
        if open_ends > 0 then
            restored := null;
        end if;
    end if;
    if why is null then
        delete from insight_failures where deployment_id = dep;
    else
        insert into insight_failures (deployment_id, service_id, environment_id, started_at, why, restored_at)
        values (d.id, d.service_id, d.environment_id, d.started_at, why, restored)
        on conflict (deployment_id) do update
            set service_id = excluded.service_id, environment_id = excluded.environment_id,
                started_at = excluded.started_at, why = excluded.why, restored_at = excluded.restored_at;
    end if;
end
$$;

-- Recounts one (service, environment, UTC day) from its deployments and failures.
create function insight_refresh_day(svc bigint, env bigint, d date) returns void language plpgsql as $$
begin
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
    having count(*) > 0;
end
$$;

-- A deployment was written: its own failure row and day, and the earlier failures of its cell
-- it may restore (or no longer restore).
create function insight_on_deployment() returns trigger language plpgsql as $$
declare
    f bigint;
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform insight_lock(old.service_id, old.environment_id);
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        perform insight_lock(new.service_id, new.environment_id);
        perform insight_refresh_failure(new.id);
        for f in
            select x.deployment_id from insight_failures x
            where x.service_id = new.service_id and x.environment_id = new.environment_id
              and x.restored_at is null and x.deployment_id <> new.id and x.started_at <= new.started_at
            union all
            select x.deployment_id from insight_failures x
            where x.service_id = new.service_id and x.environment_id = new.environment_id
              and x.restored_at >= new.started_at and x.deployment_id <> new.id and x.started_at <= new.started_at
        loop
            perform insight_refresh_failure(f);
        end loop;
        perform insight_refresh_day(new.service_id, new.environment_id, (new.started_at at time zone 'UTC')::date);
    end if;
    if tg_op = 'DELETE' or (tg_op = 'UPDATE' and (old.service_id, old.environment_id, old.started_at)
                                                 is distinct from (new.service_id, new.environment_id, new.started_at)) then
        for f in
            select x.deployment_id from insight_failures x
            where x.service_id = old.service_id and x.environment_id = old.environment_id
              and x.restored_at is null and x.deployment_id <> old.id and x.started_at <= old.started_at
            union all
            select x.deployment_id from insight_failures x
            where x.service_id = old.service_id and x.environment_id = old.environment_id
              and x.restored_at >= old.started_at and x.deployment_id <> old.id and x.started_at <= old.started_at
        loop
            perform insight_refresh_failure(f);
        end loop;
        perform insight_refresh_day(old.service_id, old.environment_id, (old.started_at at time zone 'UTC')::date);
    end if;
    return null;
end
$$;

create trigger deployments_insight
    after insert or update of status, started_at, finished_at, hotfix, service_id, environment_id or delete
    on deployments for each row execute function insight_on_deployment();

-- An incident was written: the deployments it was and is blamed on.
create function insight_on_incident() returns trigger language plpgsql as $$
declare
    dep bigint;
    d deployments;
begin
    for dep in
        select distinct x from unnest(array[
            case when tg_op <> 'INSERT' then old.caused_by end,
            case when tg_op <> 'DELETE' then new.caused_by end]) x
        where x is not null
    loop
        select * into d from deployments where id = dep;
        if found then
            perform insight_lock(d.service_id, d.environment_id);
            perform insight_refresh_failure(d.id);
            perform insight_refresh_day(d.service_id, d.environment_id, (d.started_at at time zone 'UTC')::date);
        end if;
    end loop;
    return null;
end
$$;

create trigger incidents_insight
    after insert or update of caused_by, resolved_at, opened_at or delete
    on incidents for each row execute function insight_on_incident();

-- A change shipped (per service): +1 in its day's bucket, -1 where it was before.
create function insight_on_change_deployment() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        update insight_leads l set n = l.n - 1
        from deployments d
        where d.id = old.deployment_id and l.service_id = old.service_id and l.environment_id = d.environment_id
          and l.day = (old.deployed_at at time zone 'UTC')::date
          and l.bucket = insight_bucket(old.merged_at, greatest(old.deployed_at, old.merged_at));
        update insight_env_leads l set n = l.n - 1
        from deployments d
        where d.id = old.deployment_id and l.environment_id = d.environment_id
          and l.day = (old.deployed_at at time zone 'UTC')::date
          and l.bucket = insight_bucket(old.merged_at, greatest(old.deployed_at, old.merged_at));
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into insight_leads (service_id, environment_id, day, bucket, n)
        select new.service_id, d.environment_id, (new.deployed_at at time zone 'UTC')::date,
               insight_bucket(new.merged_at, greatest(new.deployed_at, new.merged_at)), 1
        from deployments d where d.id = new.deployment_id
        on conflict on constraint insight_leads_pkey do update set n = insight_leads.n + 1;
        insert into insight_env_leads (environment_id, day, bucket, n)
        select d.environment_id, (new.deployed_at at time zone 'UTC')::date,
               insight_bucket(new.merged_at, greatest(new.deployed_at, new.merged_at)), 1
        from deployments d where d.id = new.deployment_id
        on conflict on constraint insight_env_leads_pkey do update set n = insight_env_leads.n + 1;
    end if;
    return null;
end
$$;

create trigger change_deployments_insight
    after insert or update or delete on change_deployments
    for each row execute function insight_on_change_deployment();

-- A change's first production deployment (the whole team's lead time) moved.
create function insight_on_change_record() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') and old.first_deployed_at is not null then
        update insight_team_leads l set n = l.n - 1
        where l.day = (old.first_deployed_at at time zone 'UTC')::date
          and l.bucket = insight_bucket(old.merged_at, greatest(old.first_deployed_at, old.merged_at));
    end if;
    if tg_op in ('INSERT', 'UPDATE') and new.first_deployed_at is not null then
        insert into insight_team_leads (day, bucket, n)
        values ((new.first_deployed_at at time zone 'UTC')::date,
                insight_bucket(new.merged_at, greatest(new.first_deployed_at, new.merged_at)), 1)
        on conflict on constraint insight_team_leads_pkey do update set n = insight_team_leads.n + 1;
    end if;
    return null;
end
$$;

create trigger change_records_insight
    after insert or update of first_deployed_at, merged_at or delete on change_records
    for each row execute function insight_on_change_record();

-- What is already recorded.
do $$ begin
    perform insight_refresh_failure(d.id) from deployments d
    where d.status in ('failed', 'rolled_back') or exists (select 1 from incidents i where i.caused_by = d.id);
end $$;
insert into insight_days (service_id, environment_id, day, deployments, live, failing, reworked)
select x.service_id, x.environment_id, (x.started_at at time zone 'UTC')::date, count(*),
       count(*) filter (where x.status in ('succeeded', 'rolled_back')),
       count(f.deployment_id),
       count(*) filter (where x.hotfix or x.status = 'rolled_back')
from deployments x left join insight_failures f on f.deployment_id = x.id
where x.status in ('succeeded', 'failed', 'rolled_back')
group by 1, 2, 3;
insert into insight_leads (service_id, environment_id, day, bucket, n)
select cd.service_id, d.environment_id, (cd.deployed_at at time zone 'UTC')::date,
       insight_bucket(cd.merged_at, greatest(cd.deployed_at, cd.merged_at)), count(*)
from change_deployments cd join deployments d on d.id = cd.deployment_id
group by 1, 2, 3, 4;
insert into insight_env_leads (environment_id, day, bucket, n)
select d.environment_id, (cd.deployed_at at time zone 'UTC')::date,
       insight_bucket(cd.merged_at, greatest(cd.deployed_at, cd.merged_at)), count(*)
from change_deployments cd join deployments d on d.id = cd.deployment_id
group by 1, 2, 3;
insert into insight_team_leads (day, bucket, n)
select (c.first_deployed_at at time zone 'UTC')::date,
       insight_bucket(c.merged_at, greatest(c.first_deployed_at, c.merged_at)), count(*)
from change_records c where c.first_deployed_at is not null
group by 1, 2;
