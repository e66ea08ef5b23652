-- agent_time orders an agent's events as the streams do: by (occurred_at, sequence, event_id).
--
-- 0004's view ordered them by (occurred_at, event_id). Two events of one agent at the same
-- instant are common — the simulator logs an agent in with logged_in and ready in the same
-- millisecond, a queue_log (whole seconds) puts a call's end and a pause in one second — and
-- the state that holds until the agent's next event is the later one in the producer's
-- sequence (streams/agents.py, the ledger). Ordered by the random event id, about half of such
-- pairs were swapped: an agent who logged in and waited an hour ready counted an hour of
-- logged_in (not staffed), so center_occupancy's staffed time fell short of the streams'
-- agent_minute and its occupancy came out too high. Same columns; no data is touched;
-- re-runnable. center_occupancy reads this view by name and needs no change.

CREATE OR REPLACE VIEW {database}.agent_time AS
SELECT
    province_code, region_code, center_id, agent_id, state, reason,
    occurred_at AS started_at,
    next_at AS ended_at,
    toDate(occurred_at, 'Asia/Shanghai') AS day,
    least(dateDiff('millisecond', occurred_at, next_at), 43200000) AS duration_ms,
    state IN ('ready', 'on_call') OR (state = 'not_ready' AND reason = 'acw') AS staffed
FROM
(
    SELECT
        *,
        leadInFrame(occurred_at) OVER (
            PARTITION BY center_id, agent_id ORDER BY occurred_at, sequence, event_id
            ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING
        ) AS next_at
    FROM {database}.agent_states FINAL
)
WHERE next_at > occurred_at AND state != 'logged_out';
