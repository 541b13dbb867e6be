-- GitHub sends no event when more than three tags are pushed at once (issue 12): a repository
-- imported from a clone on the server remembers its path and is re-imported periodically, one
-- replica at a time (a lease).
alter table repositories
    add column clone_path text,
    add column next_import_at timestamptz,
    add column import_leased_until timestamptz,
    add column last_import_at timestamptz,
    add column last_import_outcome text not null default '';
create index repositories_import_due_idx on repositories (next_import_at) where clone_path is not null;
