-- Release lines: repositories, lines (main and release-vX.Y), immutable tags, backport requests.

create table repositories (
    id             bigint generated always as identity primary key,
    name           text not null,
    url            text not null default '',
    default_branch text not null default 'main',
    owner_id       bigint not null references accounts (id),
    created_at     timestamptz not null default now(),
    constraint repositories_name_key unique (name),
    constraint repositories_name_format check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$')
);

create table release_lines (
    id            bigint generated always as identity primary key,
    repository_id bigint not null references repositories (id),
    -- 'main', or release-vX.Y with its numbers for ordering.
    name          text not null,
    major         integer,
    minor         integer,
    owner_id      bigint not null references accounts (id),
    created_at    timestamptz not null default now(),
    constraint release_lines_repo_name_key unique (repository_id, name),
    constraint release_lines_name_format check (
        (name = 'main' and major is null and minor is null)
        or (name = 'release-v' || major || '.' || minor and major >= 0 and minor >= 0)
    )
);
create index release_lines_order_idx on release_lines (repository_id, major desc, minor desc);

create table release_tags (
    id             bigint generated always as identity primary key,
    repository_id  bigint not null references repositories (id),
    line_id        bigint not null references release_lines (id),
    name           text not null,
    major          integer not null,
    minor          integer not null,
    patch          integer not null,
    -- '' for a final version, else alpha/beta/rc; with its number.
    pre_kind       text not null default '',
    pre_number     integer,
    commit_sha     text not null default '',
    tagged_at      timestamptz not null,
    source         text not null,
    recorded_by    bigint references accounts (id),
    recorded_at    timestamptz not null default now(),
    retracted_at   timestamptz,
    retract_reason text,
    constraint release_tags_repo_name_key unique (repository_id, name),
    constraint release_tags_source_check check (source in ('manual', 'import', 'api', 'webhook')),
    constraint release_tags_pre_check check ((pre_kind = '') = (pre_number is null)),
    constraint release_tags_retraction_check check ((retracted_at is null) = (retract_reason is null))
);
create index release_tags_line_idx
    on release_tags (line_id, major desc, minor desc, patch desc, pre_kind desc, pre_number desc);

-- Tags are immutable: nothing but a one-time retraction may change a recorded tag, and no tag is
-- ever deleted — whatever writes to the database.
create function release_tags_immutable() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'release tags are immutable: % cannot be deleted', old.name
            using errcode = 'check_violation', constraint = 'release_tags_immutable';
    end if;
    if (new.repository_id, new.line_id, new.name, new.major, new.minor, new.patch, new.pre_kind,
        new.pre_number, new.commit_sha, new.tagged_at, new.source, new.recorded_by, new.recorded_at)
       is distinct from
       (old.repository_id, old.line_id, old.name, old.major, old.minor, old.patch, old.pre_kind,
        old.pre_number, old.commit_sha, old.tagged_at, old.source, old.recorded_by, old.recorded_at)
       or old.retracted_at is not null then
        raise exception 'release tags are immutable: % can only be retracted, once', old.name
            using errcode = 'check_violation', constraint = 'release_tags_immutable';
    end if;
    return new;
end $$;

create trigger release_tags_immutable before update or delete on release_tags
    for each row execute function release_tags_immutable();

create table backports (
    id            bigint generated always as identity primary key,
    repository_id bigint not null references repositories (id),
    title         text not null,
    link          text not null default '',
    criticality   text not null,
    justification text not null default '',
    requested_by  bigint not null references accounts (id),
    created_at    timestamptz not null default now(),
    constraint backports_criticality_check
        check (criticality in ('data_loss', 'memory_corruption', 'crash_hang', 'security', 'other')),
    constraint backports_other_needs_justification
        check (criticality <> 'other' or char_length(justification) > 0),
    constraint backports_title_length check (char_length(title) between 1 and 200)
);
create index backports_repo_idx on backports (repository_id, id desc);

create table backport_targets (
    backport_id bigint not null references backports (id),
    line_id     bigint not null references release_lines (id),
    -- Newest line first.
    position    integer not null,
    status      text not null default 'pending',
    updated_at  timestamptz not null default now(),
    primary key (backport_id, line_id),
    constraint backport_targets_status_check
        check (status in ('pending', 'approved', 'picked', 'not_needed'))
);
create index backport_targets_line_idx on backport_targets (line_id, backport_id desc);
