-- Team rhythm (DESIGN §3.8): weekly 3PS updates, milestone commitments, 1-2-3 escalation.

-- One update per member per ISO week: Plan, Priority, Problem, Summary (Markdown, sanitized on
-- render). `version` guards concurrent edits; every save is kept in update_revisions.
create table updates (
    id          bigint generated always as identity primary key,
    account_id  bigint not null references accounts (id),
    iso_year    integer not null,
    iso_week    integer not null,
    plan        text not null default '',
    priority    text not null default '',
    problem     text not null default '',
    summary     text not null default '',
    version     integer not null default 1,
    created_at  timestamptz not null,
    updated_at  timestamptz not null,
    search      tsvector generated always as (
        to_tsvector('simple', plan || ' ' || priority || ' ' || problem || ' ' || summary)) stored,
    constraint updates_account_week_key unique (account_id, iso_year, iso_week),
    constraint updates_week_check check (iso_week between 1 and 53 and iso_year between 1970 and 9999),
    constraint updates_fields_length check (char_length(plan) <= 4000 and char_length(priority) <= 4000
        and char_length(problem) <= 4000 and char_length(summary) <= 4000)
);
create index updates_week_idx on updates (iso_year, iso_week);
create index updates_search_idx on updates using gin (search);

create table update_revisions (
    update_id bigint not null references updates (id) on delete cascade,
    version   integer not null,
    plan      text not null,
    priority  text not null,
    problem   text not null,
    summary   text not null,
    saved_at  timestamptz not null,
    constraint update_revisions_pkey primary key (update_id, version)
);

-- Reminders sent, so a member gets at most one per week.
create table update_reminders (
    account_id bigint not null references accounts (id),
    iso_year   integer not null,
    iso_week   integer not null,
    sent_at    timestamptz not null,
    constraint update_reminders_pkey primary key (account_id, iso_year, iso_week)
);

-- Weekly digests sent to the team channel, once per week.
create table update_digests (
    iso_year integer not null,
    iso_week integer not null,
    sent_at  timestamptz not null,
    constraint update_digests_pkey primary key (iso_year, iso_week)
);

-- A personal milestone: due at most `milestone_max_days` ahead when committed or re-planned.
-- Slipped (past due and not done) is derived, never stored.
create table milestones (
    id          bigint generated always as identity primary key,
    account_id  bigint not null references accounts (id),
    title       text not null,
    doc_id      bigint references docs (id),
    line_id     bigint references release_lines (id),
    due_on      date not null,
    state       text not null default 'on_track',
    done_at     timestamptz,
    version     integer not null default 1,
    created_at  timestamptz not null,
    updated_at  timestamptz not null,
    constraint milestones_title_length check (char_length(title) between 1 and 200),
    constraint milestones_state_check check (state in ('on_track', 'at_risk', 'done')),
    constraint milestones_done_has_time check ((state = 'done') = (done_at is not null))
);
create index milestones_open_idx on milestones (due_on, id) where state <> 'done';
create index milestones_account_idx on milestones (account_id, due_on desc, id desc);

-- Every due date a milestone had, oldest first (re-planning keeps the history).
create table milestone_dates (
    milestone_id bigint not null references milestones (id) on delete cascade,
    due_on       date not null,
    set_at       timestamptz not null,
    constraint milestone_dates_pkey primary key (milestone_id, set_at)
);

-- A blocker and its 1-2-3 clock. `stage` is the last step fired (0 none, 1 helpers, 2 team,
-- 3 leads); steps are computed from stored timestamps, so a restart never skips or repeats one.
create table blockers (
    id            bigint generated always as identity primary key,
    account_id    bigint not null references accounts (id),
    what          text not null,
    tried         text not null default '',
    raised_at     timestamptz not null,
    stage         smallint not null default 0,
    stage_at      timestamptz,
    resolved_at   timestamptz,
    resolved_by   bigint references accounts (id),
    resolution    text not null default '',
    constraint blockers_what_length check (char_length(what) between 1 and 500),
    constraint blockers_tried_length check (char_length(tried) <= 4000),
    constraint blockers_resolution_length check (char_length(resolution) <= 2000),
    constraint blockers_stage_check check (stage between 0 and 3),
    constraint blockers_resolved_by check ((resolved_at is null) = (resolved_by is null))
);
create index blockers_open_idx on blockers (raised_at, id) where resolved_at is null;
create index blockers_account_idx on blockers (account_id, id desc);

create table blocker_helpers (
    blocker_id bigint not null references blockers (id) on delete cascade,
    account_id bigint not null references accounts (id),
    constraint blocker_helpers_pkey primary key (blocker_id, account_id)
);
