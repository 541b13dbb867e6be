-- Design docs: sequential numbers, sections, alternatives, states, revisions, reviewers,
-- threaded comments, and a weighted full-text index.

create table doc_counter (
    id   smallint primary key default 1,
    last integer not null default 0,
    constraint doc_counter_single_row check (id = 1)
);
insert into doc_counter (id, last) values (1, 0);

create table docs (
    id            bigint generated always as identity primary key,
    number        integer not null,
    title         text not null,
    kind          text not null,
    owner_id      bigint not null references accounts (id),
    tags          text[] not null default '{}',
    target_line   text not null default '',
    status        text not null default 'draft',
    background    text not null default '',
    objectives    text not null default '',
    -- [{title, description, pros, cons, references, data}]
    alternatives  jsonb not null default '[]',
    conclusion    text not null default '',
    -- [{title, body}]
    extra         jsonb not null default '[]',
    -- Optimistic locking: a save names the version it edited.
    version       integer not null default 1,
    decided_by    bigint references accounts (id),
    decided_at    timestamptz,
    decision      text not null default '',
    superseded_by integer,
    comments_text text not null default '',
    search        tsvector,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint docs_number_key unique (number),
    constraint docs_kind_check check (kind in ('proposal', 'problem', 'decision', 'information')),
    constraint docs_status_check check (status in ('draft', 'in_review', 'changes_requested', 'approved',
        'rejected', 'implemented', 'withdrawn', 'superseded', 'on_hold')),
    constraint docs_title_length check (char_length(title) between 1 and 200)
);
create index docs_number_idx on docs (number desc);
create index docs_status_idx on docs (status, number desc);
create index docs_owner_idx on docs (owner_id, number desc);
create index docs_tags_idx on docs using gin (tags);
create index docs_search_idx on docs using gin (search);

-- Title weighs most, then the sections, then the comments.
create function docs_search_update() returns trigger language plpgsql as $$
begin
    new.search :=
        setweight(to_tsvector('english', coalesce(new.title, '')), 'A') ||
        setweight(to_tsvector('english', concat_ws(' ', new.background, new.objectives, new.conclusion,
            new.alternatives::text, new.extra::text)), 'B') ||
        setweight(to_tsvector('english', coalesce(new.comments_text, '')), 'C');
    return new;
end $$;
create trigger docs_search_update before insert or update on docs
    for each row execute function docs_search_update();

create table doc_revisions (
    id        bigint generated always as identity primary key,
    doc_id    bigint not null references docs (id),
    version   integer not null,
    markdown  text not null,
    author_id bigint not null references accounts (id),
    at        timestamptz not null default now(),
    constraint doc_revisions_doc_version_key unique (doc_id, version)
);

create table doc_reviewers (
    doc_id       bigint not null references docs (id),
    reviewer_id  bigint not null references accounts (id),
    requested_at timestamptz not null default now(),
    due_at       timestamptz not null,
    verdict      text,
    verdict_at   timestamptz,
    note         text not null default '',
    primary key (doc_id, reviewer_id),
    constraint doc_reviewers_verdict_check
        check (verdict is null or verdict in ('approve', 'request_changes', 'comment'))
);
create index doc_reviewers_reviewer_idx on doc_reviewers (reviewer_id, due_at);

create table doc_comments (
    id          bigint generated always as identity primary key,
    doc_id      bigint not null references docs (id),
    parent_id   bigint references doc_comments (id),
    section     text not null default '',
    author_id   bigint not null references accounts (id),
    body        text not null,
    created_at  timestamptz not null default now(),
    resolved_at timestamptz,
    resolved_by bigint references accounts (id),
    constraint doc_comments_body_length check (char_length(body) between 1 and 10000)
);
create index doc_comments_doc_idx on doc_comments (doc_id, id);
