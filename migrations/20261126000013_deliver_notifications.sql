-- Notifications delivered (issue 13): where they go (destinations and per-event routes), one
-- delivery per (outbox row, destination) with its own retry state, the in-app inbox, and each
-- member's notification preferences.

-- The outbox row says what happened, in words for people and with a link; routing replaces the
-- fixed channel, and delivery state moves to notify_deliveries (one row per destination).
alter table outbox
    drop constraint outbox_channel_check,
    drop column channel,
    drop column delivered_at,
    drop column attempts,
    add column text text not null default '',
    add column link text not null default '',
    -- The member it is addressed to (a reviewer asked, a doc's owner…): their inbox and their
    -- quiet hours.
    add column recipient_id bigint references accounts (id) on delete set null;
create index outbox_created_idx on outbox (created_at);

create table notify_destinations (
    id                   bigint generated always as identity primary key,
    name                 text not null,
    -- slack: a Slack-compatible incoming webhook (Slack, Mattermost, Discord's /slack URL);
    -- webhook: signed JSON.
    kind                 text not null,
    -- Both are secrets: shown masked, never logged.
    url                  text not null,
    secret               text not null default '',
    enabled              boolean not null default true,
    created_by           bigint references accounts (id) on delete set null,
    created_at           timestamptz not null default now(),
    -- One sender at a time per destination (so its messages leave in order), leased like the prober.
    leased_until         timestamptz,
    -- A receiver's 429 Retry-After, and Slack's one message per second.
    paused_until         timestamptz,
    consecutive_failures integer not null default 0,
    last_error           text not null default '',
    last_failure_at      timestamptz,
    last_success_at      timestamptz,
    constraint notify_destinations_name_key unique (name),
    constraint notify_destinations_name_check check (char_length(name) between 1 and 64),
    constraint notify_destinations_kind_check check (kind in ('slack', 'webhook')),
    constraint notify_destinations_url_check check (url ~ '^https?://' and char_length(url) <= 2000)
);

-- Which events go where: zero or more destinations per event type.
create table notify_routes (
    destination_id bigint not null references notify_destinations (id) on delete cascade,
    event          text not null,
    primary key (destination_id, event)
);
create index notify_routes_event_idx on notify_routes (event);

create table notify_deliveries (
    id              bigint generated always as identity primary key,
    outbox_id       bigint not null references outbox (id) on delete cascade,
    destination_id  bigint not null references notify_destinations (id) on delete cascade,
    status          text not null default 'pending',
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    -- Held during the addressed member's quiet hours (does not block the destination's others).
    held_until      timestamptz,
    last_error      text not null default '',
    sent_at         timestamptz,
    created_at      timestamptz not null default now(),
    constraint notify_deliveries_status_check check (status in ('pending', 'sent', 'dead')),
    constraint notify_deliveries_outbox_destination_key unique (outbox_id, destination_id)
);
-- The sender's queue: a destination's pending rows in order of creation.
create index notify_deliveries_pending_idx on notify_deliveries (destination_id, id) where status = 'pending';
create index notify_deliveries_dead_idx on notify_deliveries (destination_id, id desc) where status = 'dead';
create index notify_deliveries_sent_idx on notify_deliveries (sent_at) where status = 'sent';

create table inbox_items (
    id         bigint generated always as identity primary key,
    account_id bigint not null references accounts (id) on delete cascade,
    event      text not null,
    text       text not null,
    link       text not null,
    created_at timestamptz not null default now(),
    read_at    timestamptz
);
create index inbox_items_account_idx on inbox_items (account_id, id desc);
create index inbox_items_unread_idx on inbox_items (account_id) where read_at is null;
create index inbox_items_created_idx on inbox_items (created_at);

alter table accounts
    -- Personal events the member does not want in their inbox.
    add column notify_muted text[] not null default '{}',
    -- Quiet hours in the member's own zone: chat about them is held; the inbox is immediate.
    add column quiet_from time,
    add column quiet_until time,
    add constraint accounts_quiet_hours_check check ((quiet_from is null) = (quiet_until is null));

-- An offline check-in whose return time passed without a new check-in is announced once.
alter table presence_events add column overdue_announced boolean not null default false;
create index presence_events_overdue_idx on presence_events (until)
    where state = 'offline' and not overdue_announced;
