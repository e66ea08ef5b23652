-- agent_time counts each state where it was spent, in pieces of one China hour, and counts an
-- agent's latest state up to now, as the streams count agent time.
--
-- 0004/0016's view booked a whole interval on the day it started and left out each agent's
-- last event. An agent ready from 23:00 to 01:00 China time counted two hours on the first day
-- and none on the second (the streams' agent_minute: one and one), and an agent logged in and
-- ready now counted nothing until its next event, so center_occupancy per day came out wrong
-- around midnight and for the current day.
--
-- Now: an agent's state lasts from its event until the agent's next event in the streams'
-- order (occurred_at, sequence, event_id), at most 12 h (43200000 ms, the streams'
-- max_agent_state: a lost logout staffs no night); the agent's latest state has no next event
-- and lasts until now(), at most 12 h (open = 1: its row grows as time passes). The interval is
-- cut at every hour boundary (China hours are UTC hours: UTC+8, no daylight saving time, so a
-- China midnight is one of them): one row per state and China hour it covers, started_at and
-- ended_at the piece's bounds, day its China day, duration_ms its length; state_started_at is
-- the state's own start (the agent's event), the same on every piece of one state. A logged-out
-- state and a state that lasts 0 ms (two events in one instant) give no row, as before.
-- One read of agent_states FINAL and one window, as before: a WHERE on center_id (and
-- agent_id) still reaches the read; the analysts' row filter applies to agent_states and to
-- this view by name (province_code). center_occupancy reads this view by name and needs no
-- change. No data is touched; re-runnable.

CREATE OR REPLACE VIEW {database}.agent_time AS
SELECT
    province_code, region_code, center_id, agent_id, state, reason,
    fromUnixTimestamp64Milli(greatest(begin_ms, hour * 3600000), 'UTC') AS started_at,
    fromUnixTimestamp64Milli(least(end_ms, (hour + 1) * 3600000), 'UTC') AS ended_at,
    toDate(started_at, 'Asia/Shanghai') AS day,
    least(end_ms, (hour + 1) * 3600000) - greatest(begin_ms, hour * 3600000) AS duration_ms,
    staffed,
    occurred_at AS state_started_at,
    open
FROM
(
    SELECT
        province_code, region_code, center_id, agent_id, state, reason, occurred_at,
        toUnixTimestamp64Milli(occurred_at) AS begin_ms,
        least(ifNull(toUnixTimestamp64Milli(next_at), toUnixTimestamp64Milli(now64(3))),
              begin_ms + 43200000) AS end_ms,
        next_at IS NULL AS open,
        state IN ('ready', 'on_call') OR (state = 'not_ready' AND reason = 'acw') AS staffed
    FROM
    (
        SELECT
            *,
            leadInFrame(toNullable(occurred_at)) OVER (
                PARTITION BY center_id, agent_id ORDER BY occurred_at, sequence, event_id
                ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING
            ) AS next_at
        FROM {database}.agent_states FINAL
    )
    WHERE state != 'logged_out' AND end_ms > begin_ms
)
ARRAY JOIN range(intDiv(begin_ms, 3600000), intDiv(end_ms - 1, 3600000) + 1) AS hour;
