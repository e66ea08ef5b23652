-- metric_counters (0004), the view of every grain, states the China-time bucket of its day,
-- month and year branches as CAST(… AS DateTime('Asia/Shanghai')), as 0014 did for the
-- per-grain views: toDateTime(date, 'Asia/Shanghai') does not reach bucket_start in the
-- rollups' primary key, so an analyst's `metric_counters WHERE grain = 'day' AND bucket >= …`
-- (or metric_rates, which reads this view by name) read every day of its level and region.
-- The two expressions give the same value for every Date (0014), so the view has the same
-- columns, types and rows as before. No data is touched; re-runnable.


CREATE OR REPLACE VIEW {database}.metric_counters AS
SELECT 'minute' AS grain, toTimeZone(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_minute FINAL
UNION ALL
SELECT 'hour' AS grain, toTimeZone(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_hour FINAL
UNION ALL
SELECT 'day' AS grain, CAST(bucket_start AS DateTime('Asia/Shanghai')) AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_day FINAL
UNION ALL
SELECT 'month' AS grain, CAST(bucket_start AS DateTime('Asia/Shanghai')) AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_month FINAL
UNION ALL
SELECT 'year' AS grain, CAST(toStartOfYear(bucket_start) AS DateTime('Asia/Shanghai')) AS bucket, level, region_code, province_code, business_line, channel, sum(offered) AS offered,
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
