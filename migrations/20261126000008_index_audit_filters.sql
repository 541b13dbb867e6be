-- The audit log page filters by action and by who acted (issue 11).
create index audit_log_action_idx on audit_log (action, id desc);
create index audit_log_actor_label_idx on audit_log (actor, id desc);
