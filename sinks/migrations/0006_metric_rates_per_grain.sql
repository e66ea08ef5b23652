-- metric_rates without grouping sets, so that a query reads only the grain it asks for.
--
-- 0004's metric_rates computed the 'all' totals with GROUP BY GROUPING SETS over the whole of
-- metric_counters. ClickHouse cannot push a WHERE through grouping sets (a column may be a
-- default of another set), so every query aggregated every grain of every table first: over a
-- year of national data, Q1 of docs/analysts.md ran out of memory (9.25 GiB) and Q1/Q7/Q10
-- took 5-9 s at 20 days. Here the four groupings are four branches of a UNION ALL, each a plain
-- GROUP BY of metric_counters: a WHERE on grain, bucket, level, region_code or province_code
-- is pushed through the GROUP BY and the UNION ALL of metric_counters into the FINAL reads of
-- the one rollup table of that grain (the other branches' constant grain makes their filter
-- false: they read nothing), and business_line = 'all' / channel = 'all' selects branches the
-- same way. Same columns, same rows, same numbers as 0004's view (the detail rows of
-- metric_counters are unique per key, so their branch needs no GROUP BY).

CREATE OR REPLACE VIEW {database}.metric_rates AS
SELECT
    grain, bucket, level, region_code, province_code, business_line, channel,
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
    SELECT grain, bucket, level, region_code, province_code, business_line, channel,
        offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
    FROM {database}.metric_counters
    UNION ALL
    SELECT grain, bucket, level, region_code, province_code, business_line, 'all' AS channel,
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
    GROUP BY grain, bucket, level, region_code, province_code, business_line
    UNION ALL
    SELECT grain, bucket, level, region_code, province_code, 'all' AS business_line, channel,
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
    GROUP BY grain, bucket, level, region_code, province_code, channel
    UNION ALL
    SELECT grain, bucket, level, region_code, province_code, 'all' AS business_line, 'all' AS channel,
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
    GROUP BY grain, bucket, level, region_code, province_code
);
