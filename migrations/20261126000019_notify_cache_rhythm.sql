-- The home page's per-member parts (my milestones, the open blockers) are cached per replica
-- too (src/cache): these tables announce their changes like those in migration 18.
do $$
declare
    t text;
begin
    foreach t in array array['milestones', 'milestone_dates', 'blockers', 'blocker_helpers',
                             'release_lines']
    loop
        execute format('create trigger %I after insert or update or delete on %I
                        for each row execute function cache_notify_table()', t || '_cache', t);
    end loop;
end
$$;
