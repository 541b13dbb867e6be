-- More page parts are cached per replica (src/cache, issue 16): the week of 3PS updates and the
-- insight page (review speed, release cadence and backports, the DORA rollups). These tables
-- announce their changes like those in migrations 18 and 19.
do $$
declare
    t text;
begin
    foreach t in array array['updates', 'backports', 'backport_targets']
    loop
        execute format('create trigger %I after insert or update or delete on %I
                        for each row execute function cache_notify_table()', t || '_cache', t);
    end loop;
end
$$;
