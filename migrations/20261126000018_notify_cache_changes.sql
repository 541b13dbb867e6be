-- Cache coherence across replicas (issue 16): every write that changes what a replica may have
-- cached sends NOTIFY flowdeck_cache in the writing transaction (delivered only on commit).
-- Payloads: `account:<id>` (the signed-in account and its unread count) or a table's name (the
-- team-wide page parts that read it). See src/cache/mod.rs.

create function cache_notify_account() returns trigger language plpgsql as $$
begin
    if tg_table_name = 'accounts' then
        perform pg_notify('flowdeck_cache', 'account:' || coalesce(new.id, old.id));
        -- Names and zones on team-wide parts (the board).
        perform pg_notify('flowdeck_cache', 'accounts');
    else
        perform pg_notify('flowdeck_cache', 'account:' || coalesce(new.account_id, old.account_id));
    end if;
    return null;
end
$$;

create trigger accounts_cache after insert or update or delete on accounts
    for each row execute function cache_notify_account();
create trigger inbox_items_cache after insert or update or delete on inbox_items
    for each row execute function cache_notify_account();

-- For the session store's table, which its crate creates after these migrations (`db::migrate`
-- puts this trigger on it).
create function cache_notify_session() returns trigger language plpgsql as $$
begin
    perform pg_notify('flowdeck_cache', 'session:' || old.id);
    return null;
end
$$;

create function cache_notify_table() returns trigger language plpgsql as $$
begin
    perform pg_notify('flowdeck_cache', tg_table_name);
    return null;
end
$$;

-- Row-level, so a statement that changes nothing (a worker's empty claim) announces nothing;
-- PostgreSQL sends identical payloads of one transaction once.
do $$
declare
    t text;
begin
    foreach t in array array['presence_events', 'presence_current', 'leave_requests', 'deployments',
                             'current_deployments', 'incidents', 'environments', 'services',
                             'change_records', 'change_deployments', 'release_tags', 'repositories',
                             'docs', 'doc_reviewers']
    loop
        execute format('create trigger %I after insert or update or delete on %I
                        for each row execute function cache_notify_table()', t || '_cache', t);
    end loop;
end
$$;

-- The prober updates its targets every second (leases, timestamps): only a change of state or
-- of the targets themselves matters to a cache.
create trigger health_targets_cache_state after update on health_targets
    for each row when (old.status is distinct from new.status or old.url is distinct from new.url)
    execute function cache_notify_table();
create trigger health_targets_cache_rows after insert or delete on health_targets
    for each row execute function cache_notify_table();
