-- Availability: check-ins (each member's history), the current check-in per member, leave
-- requests, and the outbox of notifications for the team's chat channels.

create table presence_events (
    id         bigint generated always as identity primary key,
    account_id bigint not null references accounts (id),
    state      text not null,
    at         timestamptz not null,
    -- Offline only: when the member said they would be back.
    until      timestamptz,
    reason     text not null default '',
    constraint presence_events_state_check check (state in ('online', 'away', 'offline')),
    constraint presence_events_offline_has_until check ((state = 'offline') = (until is not null)),
    constraint presence_events_until_after_at check (until is null or until > at),
    constraint presence_events_reason_length check (char_length(reason) <= 200)
);
create index presence_events_account_idx on presence_events (account_id, id desc);

-- The latest check-in of each member, kept in the same transaction as the event.
create table presence_current (
    account_id bigint primary key references accounts (id),
    event_id   bigint not null references presence_events (id)
);

create table leave_requests (
    id            bigint generated always as identity primary key,
    account_id    bigint not null references accounts (id),
    -- The dates as the member chose them, in their time zone (inclusive)...
    starts_on     date not null,
    ends_on       date not null,
    -- ...and the instants they cover: local midnight of starts_on to local midnight after ends_on.
    starts_at     timestamptz not null,
    ends_at       timestamptz not null,
    timezone      text not null,
    kind          text not null,
    note          text not null default '',
    emergency     boolean not null default false,
    status        text not null default 'pending',
    decided_by    bigint references accounts (id),
    decided_at    timestamptz,
    decision_note text not null default '',
    created_at    timestamptz not null default now(),
    constraint leave_requests_dates_check check (ends_on >= starts_on),
    constraint leave_requests_instants_check check (ends_at > starts_at),
    constraint leave_requests_kind_check check (kind in ('vacation', 'sick', 'personal', 'other')),
    constraint leave_requests_status_check
        check (status in ('pending', 'acknowledged', 'declined', 'cancelled')),
    constraint leave_requests_note_length check (char_length(note) <= 500)
    -- Overlaps are refused in the application, serialised by locking the member's account row
    -- (an exclusion constraint would need the btree_gist extension, which not every host allows).
);
create index leave_requests_account_idx on leave_requests (account_id, starts_at desc, id desc);
create index leave_requests_window_idx on leave_requests (ends_at, starts_at)
    where status in ('pending', 'acknowledged');
create index leave_requests_pending_idx on leave_requests (starts_at) where status = 'pending';

create table outbox (
    id           bigint generated always as identity primary key,
    event        text not null,
    -- 'team' for the team channel, 'inner' for emergencies.
    channel      text not null,
    payload      jsonb not null,
    created_at   timestamptz not null default now(),
    delivered_at timestamptz,
    attempts     integer not null default 0,
    constraint outbox_channel_check check (channel in ('team', 'inner'))
);
create index outbox_undelivered_idx on outbox (id) where delivered_at is null;
