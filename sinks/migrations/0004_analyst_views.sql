-- The analyst layer: rate functions, counters at every grain, and views that compute every
-- rate of DOMAIN.md from SUMMED counters (never averaged rates). docs/analysts.md documents
-- each view, column and formula and answers real questions with them.
--
-- Rates are SQL functions so that each formula is written once (below) and analysts can apply
-- it to their own sums: e.g. hotline_connection_rate(sum(answered), sum(queued)). Every rate
-- is NULL where its denominator is 0. Re-aggregating a view's rows: sum the counters, then
-- apply the function again; never average the rate columns.

-- generic ratio: NULL when the denominator is 0
CREATE FUNCTION IF NOT EXISTS hotline_ratio AS (num, den) -> if(den = 0, NULL, num / den);
-- 接通率 connection rate = answered / queued
CREATE FUNCTION IF NOT EXISTS hotline_connection_rate AS (answered, queued) -> hotline_ratio(answered, queued);
-- service level = answered_in_sl / (queued − short_abandoned)
CREATE FUNCTION IF NOT EXISTS hotline_service_level AS (answered_in_sl, queued, short_abandoned) -> hotline_ratio(answered_in_sl, toInt64(queued) - toInt64(short_abandoned));
-- abandon rate = (abandoned − short_abandoned) / (queued − short_abandoned)
CREATE FUNCTION IF NOT EXISTS hotline_abandon_rate AS (abandoned, short_abandoned, queued) -> hotline_ratio(toInt64(abandoned) - toInt64(short_abandoned), toInt64(queued) - toInt64(short_abandoned));
-- ASA in seconds = Σ wait_ms of answered calls / answered / 1000
CREATE FUNCTION IF NOT EXISTS hotline_asa_s AS (wait_ms_answered, answered) -> hotline_ratio(wait_ms_answered / 1000, answered);
-- AHT in seconds = Σ (talk_ms + hold_ms + acw_ms) / answered / 1000
CREATE FUNCTION IF NOT EXISTS hotline_aht_s AS (talk_ms, hold_ms, acw_ms, answered) -> hotline_ratio((talk_ms + hold_ms + acw_ms) / 1000, answered);
-- occupancy = Σ handle time / Σ staffed time (ready + on call + after-call work)
CREATE FUNCTION IF NOT EXISTS hotline_occupancy AS (handle_ms, staffed_ms) -> hotline_ratio(handle_ms, staffed_ms);
-- 满意率 satisfaction = (satisfied + basic) / survey_responses
CREATE FUNCTION IF NOT EXISTS hotline_satisfaction AS (satisfied, basic, responses) -> hotline_ratio(satisfied + basic, responses);
-- survey response rate = survey_responses / answered
CREATE FUNCTION IF NOT EXISTS hotline_survey_response_rate AS (responses, answered) -> hotline_ratio(responses, answered);
-- self-service rate = self_served / offered
CREATE FUNCTION IF NOT EXISTS hotline_self_service_rate AS (self_served, offered) -> hotline_ratio(self_served, offered);
-- repeat-call rate (FCR proxy) = repeat_7d / answered
CREATE FUNCTION IF NOT EXISTS hotline_repeat_rate AS (repeat_7d, answered) -> hotline_ratio(repeat_7d, answered);
-- ticket on-time rate = tickets resolved within their due time / tickets resolved
CREATE FUNCTION IF NOT EXISTS hotline_on_time_rate AS (on_time, resolved) -> hotline_ratio(on_time, resolved);

-- metric_counters: the deduplicated counters at every grain, one row per
-- (grain, bucket, level, region, business line, channel). bucket is China time (Asia/Shanghai):
-- the minute / hour start, midnight of the day, the first day of the month or of the year.
CREATE VIEW IF NOT EXISTS {database}.metric_counters AS
SELECT 'minute' AS grain, toTimeZone(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_minute FINAL
UNION ALL
SELECT 'hour' AS grain, toTimeZone(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_hour FINAL
UNION ALL
SELECT 'day' AS grain, toDateTime(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_day FINAL
UNION ALL
SELECT 'month' AS grain, toDateTime(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_month FINAL
UNION ALL
SELECT 'year' AS grain, toDateTime(toStartOfYear(bucket_start), 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, sum(offered) AS offered,
        sum(self_served) AS self_served,
        sum(queued) AS queued,
        sum(answered) AS answered,
        sum(abandoned) AS abandoned,
        sum(short_abandoned) AS short_abandoned,
        sum(answered_in_sl) AS answered_in_sl,
        sum(wait_ms_answered) AS wait_ms_answered,
        sum(wait_ms_abandoned) AS wait_ms_abandoned,
        sum(talk_ms) AS talk_ms,
        sum(hold_ms) AS hold_ms,
        sum(acw_ms) AS acw_ms,
        sum(transferred) AS transferred,
        sum(caller_hung_up_first) AS caller_hung_up_first,
        sum(repeat_7d) AS repeat_7d,
        sum(survey_responses) AS survey_responses,
        sum(survey_satisfied) AS survey_satisfied,
        sum(survey_basic) AS survey_basic,
        sum(survey_dissatisfied) AS survey_dissatisfied,
        sum(closed_by_timeout) AS closed_by_timeout,
        sum(late) AS late
FROM {database}.metric_month FINAL
GROUP BY bucket, level, region_code, province_code, business_line, channel;

-- metric_rates: every rate per grain × level × region, per business line and channel, and
-- summed over them ('all'): rows with business_line = 'all' and/or channel = 'all' are the
-- totals over all lines / channels of the same bucket and region.
CREATE VIEW IF NOT EXISTS {database}.metric_rates AS
SELECT
    grain, bucket, level, region_code, province_code,
    if(all_lines = 1, 'all', business_line) AS business_line,
    if(all_channels = 1, 'all', channel) AS channel,
    offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late,
    -- 接通率 connection rate = answered / queued
    hotline_connection_rate(answered, queued) AS connection_rate,
    -- service level 30 s = answered_in_sl / (queued − short_abandoned)
    hotline_service_level(answered_in_sl, queued, short_abandoned) AS service_level,
    -- abandon rate = (abandoned − short_abandoned) / (queued − short_abandoned)
    hotline_abandon_rate(abandoned, short_abandoned, queued) AS abandon_rate,
    -- ASA (s) = Σ wait of answered calls / answered
    hotline_asa_s(wait_ms_answered, answered) AS asa_s,
    -- AHT (s) = Σ (talk + hold + after-call work) / answered
    hotline_aht_s(talk_ms, hold_ms, acw_ms, answered) AS aht_s,
    -- 满意率 satisfaction = (satisfied + basic) / survey_responses
    hotline_satisfaction(survey_satisfied, survey_basic, survey_responses) AS satisfaction,
    -- survey response rate = survey_responses / answered
    hotline_survey_response_rate(survey_responses, answered) AS survey_response_rate,
    -- self-service rate = self_served / offered
    hotline_self_service_rate(self_served, offered) AS self_service_rate,
    -- repeat-call rate (FCR proxy) = repeat_7d / answered
    hotline_repeat_rate(repeat_7d, answered) AS repeat_rate,
    -- transfer rate = transferred / answered (not in DOMAIN.md's table; same rule)
    hotline_ratio(transferred, answered) AS transfer_rate
FROM
(
    SELECT
        grain, bucket, level, region_code, province_code, business_line, channel,
        grouping(business_line) AS all_lines,
        grouping(channel) AS all_channels,
        sum(offered) AS offered,
        sum(self_served) AS self_served,
        sum(queued) AS queued,
        sum(answered) AS answered,
        sum(abandoned) AS abandoned,
        sum(short_abandoned) AS short_abandoned,
        sum(answered_in_sl) AS answered_in_sl,
        sum(wait_ms_answered) AS wait_ms_answered,
        sum(wait_ms_abandoned) AS wait_ms_abandoned,
        sum(talk_ms) AS talk_ms,
        sum(hold_ms) AS hold_ms,
        sum(acw_ms) AS acw_ms,
        sum(transferred) AS transferred,
        sum(caller_hung_up_first) AS caller_hung_up_first,
        sum(repeat_7d) AS repeat_7d,
        sum(survey_responses) AS survey_responses,
        sum(survey_satisfied) AS survey_satisfied,
        sum(survey_basic) AS survey_basic,
        sum(survey_dissatisfied) AS survey_dissatisfied,
        sum(closed_by_timeout) AS closed_by_timeout,
        sum(late) AS late
    FROM {database}.metric_counters
    GROUP BY GROUPING SETS (
        (grain, bucket, level, region_code, province_code, business_line, channel),
        (grain, bucket, level, region_code, province_code, business_line),
        (grain, bucket, level, region_code, province_code, channel),
        (grain, bucket, level, region_code, province_code)
    )
);

-- center_rates: the same rates per center (the facts: call_records FINAL), per grain
-- (hour, day, month, year; China time) and per business line / channel or 'all'.
-- Counters come from the per-call flags, so the numbers match metric_rates for the same calls.
CREATE VIEW IF NOT EXISTS {database}.center_rates AS
SELECT
    grain, bucket, center_id, province_code,
    if(all_lines = 1, 'all', business_line) AS business_line,
    if(all_channels = 1, 'all', channel) AS channel,
    offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late,
    -- 接通率 connection rate = answered / queued
    hotline_connection_rate(answered, queued) AS connection_rate,
    -- service level 30 s = answered_in_sl / (queued − short_abandoned)
    hotline_service_level(answered_in_sl, queued, short_abandoned) AS service_level,
    -- abandon rate = (abandoned − short_abandoned) / (queued − short_abandoned)
    hotline_abandon_rate(abandoned, short_abandoned, queued) AS abandon_rate,
    -- ASA (s) = Σ wait of answered calls / answered
    hotline_asa_s(wait_ms_answered, answered) AS asa_s,
    -- AHT (s) = Σ (talk + hold + after-call work) / answered
    hotline_aht_s(talk_ms, hold_ms, acw_ms, answered) AS aht_s,
    -- 满意率 satisfaction = (satisfied + basic) / survey_responses
    hotline_satisfaction(survey_satisfied, survey_basic, survey_responses) AS satisfaction,
    -- survey response rate = survey_responses / answered
    hotline_survey_response_rate(survey_responses, answered) AS survey_response_rate,
    -- self-service rate = self_served / offered
    hotline_self_service_rate(self_served, offered) AS self_service_rate,
    -- repeat-call rate (FCR proxy) = repeat_7d / answered
    hotline_repeat_rate(repeat_7d, answered) AS repeat_rate,
    -- transfer rate = transferred / answered (not in DOMAIN.md's table; same rule)
    hotline_ratio(transferred, answered) AS transfer_rate
FROM
(
    SELECT
        grain, bucket, center_id, province_code, business_line, channel,
        grouping(business_line) AS all_lines,
        grouping(channel) AS all_channels,
        sum(offered) AS offered,
        sum(self_served) AS self_served,
        sum(queued) AS queued,
        sum(answered) AS answered,
        sum(abandoned) AS abandoned,
        sum(short_abandoned) AS short_abandoned,
        sum(answered_in_sl) AS answered_in_sl,
        sum(wait_ms_if_answered) AS wait_ms_answered,
        sum(wait_ms_if_abandoned) AS wait_ms_abandoned,
        sum(talk_ms) AS talk_ms,
        sum(hold_ms) AS hold_ms,
        sum(acw_ms) AS acw_ms,
        sum(transferred) AS transferred,
        sum(caller_hung_up_first) AS caller_hung_up_first,
        sum(repeat_7d) AS repeat_7d,
        countIf(survey_result != '') AS survey_responses,
        countIf(survey_result = 'satisfied') AS survey_satisfied,
        countIf(survey_result = 'basic') AS survey_basic,
        countIf(survey_result = 'dissatisfied') AS survey_dissatisfied,
        sum(closed_by_timeout) AS closed_by_timeout,
        0 AS late
    FROM
    (
        SELECT
            grain,
            multiIf(
                grain = 'hour', toStartOfHour(toTimeZone(started_at, 'Asia/Shanghai')),
                grain = 'day', toDateTime(day, 'Asia/Shanghai'),
                grain = 'month', toDateTime(toStartOfMonth(day), 'Asia/Shanghai'),
                toDateTime(toStartOfYear(day), 'Asia/Shanghai')
            ) AS bucket,
            *,
            wait_ms * answered AS wait_ms_if_answered,
            wait_ms * abandoned AS wait_ms_if_abandoned
        FROM {database}.call_records FINAL
        ARRAY JOIN ['hour', 'day', 'month', 'year'] AS grain
    )
    GROUP BY GROUPING SETS (
        (grain, bucket, center_id, province_code, business_line, channel),
        (grain, bucket, center_id, province_code, business_line),
        (grain, bucket, center_id, province_code, channel),
        (grain, bucket, center_id, province_code)
    )
);

-- agent_time: agent state intervals. Each agent.state event opens an interval that lasts until
-- the agent's next event (capped at 12 h: a missing logout does not staff a night); the last
-- event of an agent has no end yet and is left out. staffed = ready, on_call, or not_ready for
-- after-call work (reason acw): the denominator of occupancy.
CREATE VIEW IF NOT EXISTS {database}.agent_time AS
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
            PARTITION BY center_id, agent_id ORDER BY occurred_at, event_id
            ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING
        ) AS next_at
    FROM {database}.agent_states FINAL
)
WHERE next_at > occurred_at AND state != 'logged_out';

-- center_occupancy: occupancy per center and China calendar day =
-- Σ handle time (talk + hold + acw of the center's calls) / Σ staffed time (agent_time).
CREATE VIEW IF NOT EXISTS {database}.center_occupancy AS
SELECT
    province_code, center_id, day,
    handle_ms, staffed_ms,
    hotline_occupancy(handle_ms, staffed_ms) AS occupancy
FROM
(
    SELECT province_code, center_id, day, sum(talk_ms + hold_ms + acw_ms) AS handle_ms
    FROM {database}.call_records FINAL
    GROUP BY province_code, center_id, day
) AS handle
FULL OUTER JOIN
(
    SELECT province_code, center_id, day, sumIf(duration_ms, staffed) AS staffed_ms
    FROM {database}.agent_time
    GROUP BY province_code, center_id, day
) AS staffed
USING (province_code, center_id, day);

-- ticket_rates: ticket on-time rate per China calendar month of resolution, province, city,
-- category and business line = tickets resolved by their due time / tickets resolved.
CREATE VIEW IF NOT EXISTS {database}.ticket_rates AS
SELECT
    toStartOfMonth(toDate(resolved_at, 'Asia/Shanghai')) AS month,
    province_code, city_code, category, business_line,
    count() AS resolved,
    countIf(on_time = 1) AS resolved_on_time,
    hotline_on_time_rate(resolved_on_time, resolved) AS on_time_rate
FROM {database}.tickets FINAL
WHERE resolved_at IS NOT NULL
GROUP BY month, province_code, city_code, category, business_line;

-- ticket_backlog: the overdue backlog now = open (unresolved, not closed) tickets past due_at,
-- with how many hours they are late.
CREATE VIEW IF NOT EXISTS {database}.ticket_backlog AS
SELECT
    ticket_id, province_code, city_code, region_code, center_id, category, business_line,
    status, created_at, due_at,
    dateDiff('hour', due_at, now64(3)) AS hours_overdue
FROM {database}.tickets FINAL
WHERE resolved_at IS NULL AND closed_at IS NULL AND due_at < now64(3);
