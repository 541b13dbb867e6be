-- Service accounts (issue 12): an admin makes tokens that act as a named service (CI, a
-- deploy bot) rather than a person. They never log in (their password is random and unknown) and
-- are not team members on the board.
alter table accounts add column is_service boolean not null default false;
