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
