-- The per-grain views of the day, month and year grains (0009) state their China-time bucket
-- as CAST(… AS DateTime('Asia/Shanghai')) instead of toDateTime(…, 'Asia/Shanghai'), so that a
-- time range on `bucket` reaches the rollup tables' primary key.
--
-- The rollups are sorted by (level, bucket_start, …) since 0007, but bucket_start is a Date
-- there, and ClickHouse (measured on the embedded 26.9) does not turn a condition on
-- toDateTime(date, 'Asia/Shanghai') into a range of bucket_start: EXPLAIN indexes = 1 showed
-- the primary key used on level and region_code only, so a Grafana panel of one day or one
-- month (`$__timeFilter(bucket)`) read every row of its level and region of the grain — over a
-- year of day rows, a province's one-day summary read 71,044 of 100,740 rows. CAST to the same
-- type is analysed as a monotonic conversion: the same panel reads one granule (1,024 rows).
-- The two give the same value for every Date (1970-01-01 … 2149-06-06, compared one by one),
-- so the views have the same columns, types and rows as before. The minute and hour views
-- (toTimeZone of a DateTime) already reached the key and stay as they are; metric_rates_day,
-- _month and _year read these views by name and need no change. docs/storage.md has the
-- measurement. No data is touched; re-runnable.


CREATE OR REPLACE VIEW {database}.metric_counters_day AS
SELECT 'day' AS grain, CAST(bucket_start AS DateTime('Asia/Shanghai')) AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_day FINAL;

CREATE OR REPLACE VIEW {database}.metric_counters_month AS
SELECT 'month' AS grain, CAST(bucket_start AS DateTime('Asia/Shanghai')) AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_month FINAL;

CREATE OR REPLACE VIEW {database}.metric_counters_year AS
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
