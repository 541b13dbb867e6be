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

create function cache_notify_table() returns trigger language plpgsql as $$
begin
    perform pg_notify('flowdeck_cache', tg_table_name);
    return null;
end
$$;

do $$
declare
    t text;
begin
    foreach t in array array['presence_events', 'presence_current', 'leave_requests', 'deployments',
                             'current_deployments', 'incidents', 'health_targets', 'environments',
                             'services', 'change_records', 'change_deployments', 'release_tags',
                             'repositories', 'docs', 'doc_reviewers']
    loop
        execute format('create trigger %I after insert or update or delete or truncate on %I
                        for each statement execute function cache_notify_table()', t || '_cache', t);
    end loop;
end
$$;
