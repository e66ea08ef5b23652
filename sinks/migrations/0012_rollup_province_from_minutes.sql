-- Repair of the rollups' province_code for the Corps' cities (6590xx → 660000).
--
-- Until this fix the sink's rollup recompute (sinks/writer.py) did not select province_code, so
-- metric_hour, metric_day and metric_month took it from the column DEFAULT (first two digits +
-- '0000'). For every region that is the registry's province too, except the cities of the
-- Xinjiang Production and Construction Corps (6590xx, at every level): metric_minute holds them
-- under 660000 (hotline.sinks.rows.place), the rollups under 650000. analyst_660000 did not see
-- them above the minute grain, analyst_650000 did, and a day recompute of (660000, day), which
-- reads metric_hour by province, missed them (their day and month rows are stale or missing).
--
-- The hour rows' sums are right (the hour recompute read the minute rows by their correct
-- province; only the label is wrong), so they are copied with province 660000 and their own
-- computed_at (a newer recompute of the same key still wins). The days and months of 660000
-- are then recomputed from the corrected hours, like the sink does (one small province, every
-- day it has). Last, the wrongly labelled rows (all versions of those keys) are deleted. Readers
-- of FINAL see the 650000 rows until the delete, and the right rows from the first statement on.
-- Re-runnable: a second run copies nothing, recomputes the same sums, deletes nothing.
-- tests/test_sink_rollups.py checks that every region the registry places outside the province
-- of its digits starts with 6590 (so this repair covers every wrong row).

-- (The filter is in a subquery: in the outer SELECT, REPLACE's alias would shadow the column.)
INSERT INTO {database}.metric_hour
SELECT * REPLACE ('660000' AS province_code)
FROM
(
    SELECT * FROM {database}.metric_hour FINAL
    WHERE startsWith(region_code, '6590') AND province_code != '660000'
);

INSERT INTO {database}.metric_day
    (level, region_code, province_code, business_line, channel, bucket_start,
     offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl,
     wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred,
     caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic,
     survey_dissatisfied, closed_by_timeout, late, computed_at)
SELECT level, region_code, province_code, business_line, channel,
       toDate(bucket_start, 'Asia/Shanghai') AS b,
       sum(offered), sum(self_served), sum(queued), sum(answered), sum(abandoned),
       sum(short_abandoned), sum(answered_in_sl), sum(wait_ms_answered), sum(wait_ms_abandoned),
       sum(talk_ms), sum(hold_ms), sum(acw_ms), sum(transferred), sum(caller_hung_up_first),
       sum(repeat_7d), sum(survey_responses), sum(survey_satisfied), sum(survey_basic),
       sum(survey_dissatisfied), sum(closed_by_timeout), sum(late), now64(6)
FROM {database}.metric_hour FINAL
WHERE province_code = '660000'
GROUP BY level, region_code, province_code, business_line, channel, b;

INSERT INTO {database}.metric_month
    (level, region_code, province_code, business_line, channel, bucket_start,
     offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl,
     wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred,
     caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic,
     survey_dissatisfied, closed_by_timeout, late, computed_at)
SELECT level, region_code, province_code, business_line, channel,
       toStartOfMonth(bucket_start) AS b,
       sum(offered), sum(self_served), sum(queued), sum(answered), sum(abandoned),
       sum(short_abandoned), sum(answered_in_sl), sum(wait_ms_answered), sum(wait_ms_abandoned),
       sum(talk_ms), sum(hold_ms), sum(acw_ms), sum(transferred), sum(caller_hung_up_first),
       sum(repeat_7d), sum(survey_responses), sum(survey_satisfied), sum(survey_basic),
       sum(survey_dissatisfied), sum(closed_by_timeout), sum(late), now64(6)
FROM {database}.metric_day FINAL
WHERE province_code = '660000'
GROUP BY level, region_code, province_code, business_line, channel, b;

DELETE FROM {database}.metric_hour
WHERE startsWith(region_code, '6590') AND province_code != '660000';

DELETE FROM {database}.metric_day
WHERE startsWith(region_code, '6590') AND province_code != '660000';

DELETE FROM {database}.metric_month
WHERE startsWith(region_code, '6590') AND province_code != '660000';
