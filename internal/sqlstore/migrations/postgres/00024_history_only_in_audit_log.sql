-- +goose Up
-- The transitions that task_history kept from before 00023 join the audit
-- log, so that a task's history has one source and task_history goes: its
-- reason goes to the transition's audit entry (the same task, time and
-- new status), and a transition without an entry, if any, gets one, made
-- as moveTask makes them, with the row's ID.
UPDATE audit_entries AS ae SET reason = th.reason
FROM task_history AS th
WHERE ae.target_type = 'task' AND ae.target_id = th.task_id AND ae.at = th.at
      AND ae.action IN ('task.created', 'task.offered', 'task.assigned', 'task.completed', 'task.requeued', 'task.cancelled', 'task.expired')
      AND ae.after_json->>'status' = th.to_status AND ae.reason = '';

INSERT INTO audit_entries (id, at, actor_type, actor_id, actor_name, action, target_type, target_id, target_name,
                           before_json, after_json, ip, request_id, reason)
SELECT th.id, th.at, th.actor_type, th.actor_id, th.actor_name,
       CASE th.to_status
           WHEN 'queued' THEN CASE WHEN th.from_status = '' THEN 'task.created' ELSE 'task.requeued' END
           WHEN 'offered' THEN 'task.offered' WHEN 'assigned' THEN 'task.assigned' WHEN 'completed' THEN 'task.completed'
           WHEN 'cancelled' THEN 'task.cancelled' ELSE 'task.expired' END,
       'task', th.task_id, tk.title,
       CASE WHEN th.from_status = '' THEN NULL ELSE jsonb_build_object('status', th.from_status) END,
       jsonb_strip_nulls(jsonb_build_object('status', th.to_status, 'agent_id', th.agent_id)),
       '', '', th.reason
FROM task_history AS th JOIN tasks AS tk ON tk.id = th.task_id
WHERE th.to_status IN ('queued', 'offered', 'assigned', 'completed', 'cancelled', 'expired') AND NOT EXISTS (
    SELECT 1 FROM audit_entries AS ae WHERE ae.target_type = 'task' AND ae.target_id = th.task_id AND ae.at = th.at
      AND ae.action IN ('task.created', 'task.offered', 'task.assigned', 'task.completed', 'task.requeued', 'task.cancelled', 'task.expired')
      AND ae.after_json->>'status' = th.to_status);

DROP TABLE task_history;
