-- Per-grain analyst views: metric_counters_<grain> and metric_rates_<grain> for grain in
-- minute, hour, day, month, year. Each reads only the table of its grain (the year from
-- metric_month), so a query of one grain never touches the others.
--
-- metric_counters and metric_rates (0004, 0006) stay as they are — every grain in one view —
-- but a WHERE grain = '…' on them cannot skip the other grains' tables: the planner keeps each
-- UNION ALL branch's constant grain as a column (materialize('minute') = 'day' is evaluated
-- per row), so the minute, hour and month tables are still read with FINAL (filtered only on
-- the key columns of the WHERE). Over a simulated year that made docs/analysts.md Q1 (monthly
-- province ranking) take 2.5 s and Q7 (90 days of national days) 1.8 s.
--
-- Same columns (grain included, constant) and the same rows as metric_counters /
-- metric_rates WHERE grain = '<grain>'. docs/analysts.md uses these views.


CREATE OR REPLACE VIEW {database}.metric_counters_minute AS
SELECT 'minute' AS grain, toTimeZone(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_minute FINAL;

CREATE OR REPLACE VIEW {database}.metric_counters_hour AS
SELECT 'hour' AS grain, toTimeZone(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_hour FINAL;

CREATE OR REPLACE VIEW {database}.metric_counters_day AS
SELECT 'day' AS grain, toDateTime(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_day FINAL;

CREATE OR REPLACE VIEW {database}.metric_counters_month AS
SELECT 'month' AS grain, toDateTime(bucket_start, 'Asia/Shanghai') AS bucket, level, region_code, province_code, business_line, channel, offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
FROM {database}.metric_month FINAL;

CREATE OR REPLACE VIEW {database}.metric_counters_year AS
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

CREATE OR REPLACE VIEW {database}.metric_rates_minute AS
SELECT
    grain, bucket, level, region_code, province_code, business_line, channel,
    offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late,
    
    hotline_connection_rate(answered, queued) AS connection_rate,
    
    hotline_service_level(answered_in_sl, queued, short_abandoned) AS service_level,
    
    hotline_abandon_rate(abandoned, short_abandoned, queued) AS abandon_rate,
    
    hotline_asa_s(wait_ms_answered, answered) AS asa_s,
    
    hotline_aht_s(talk_ms, hold_ms, acw_ms, answered) AS aht_s,
    
    hotline_satisfaction(survey_satisfied, survey_basic, survey_responses) AS satisfaction,
    
    hotline_survey_response_rate(survey_responses, answered) AS survey_response_rate,
    
    hotline_self_service_rate(self_served, offered) AS self_service_rate,
    
    hotline_repeat_rate(repeat_7d, answered) AS repeat_rate,
    
    hotline_ratio(transferred, answered) AS transfer_rate
FROM
(
    SELECT grain, bucket, level, region_code, province_code, business_line, channel,
        offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
    FROM {database}.metric_counters_minute
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
    FROM {database}.metric_counters_minute
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
    FROM {database}.metric_counters_minute
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
    FROM {database}.metric_counters_minute
    GROUP BY grain, bucket, level, region_code, province_code
);

CREATE OR REPLACE VIEW {database}.metric_rates_hour AS
SELECT
    grain, bucket, level, region_code, province_code, business_line, channel,
    offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late,
    
    hotline_connection_rate(answered, queued) AS connection_rate,
    
    hotline_service_level(answered_in_sl, queued, short_abandoned) AS service_level,
    
    hotline_abandon_rate(abandoned, short_abandoned, queued) AS abandon_rate,
    
    hotline_asa_s(wait_ms_answered, answered) AS asa_s,
    
    hotline_aht_s(talk_ms, hold_ms, acw_ms, answered) AS aht_s,
    
    hotline_satisfaction(survey_satisfied, survey_basic, survey_responses) AS satisfaction,
    
    hotline_survey_response_rate(survey_responses, answered) AS survey_response_rate,
    
    hotline_self_service_rate(self_served, offered) AS self_service_rate,
    
    hotline_repeat_rate(repeat_7d, answered) AS repeat_rate,
    
    hotline_ratio(transferred, answered) AS transfer_rate
FROM
(
    SELECT grain, bucket, level, region_code, province_code, business_line, channel,
        offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
    FROM {database}.metric_counters_hour
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
    FROM {database}.metric_counters_hour
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
    FROM {database}.metric_counters_hour
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
    FROM {database}.metric_counters_hour
    GROUP BY grain, bucket, level, region_code, province_code
);

CREATE OR REPLACE VIEW {database}.metric_rates_day AS
SELECT
    grain, bucket, level, region_code, province_code, business_line, channel,
    offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late,
    
    hotline_connection_rate(answered, queued) AS connection_rate,
    
    hotline_service_level(answered_in_sl, queued, short_abandoned) AS service_level,
    
    hotline_abandon_rate(abandoned, short_abandoned, queued) AS abandon_rate,
    
    hotline_asa_s(wait_ms_answered, answered) AS asa_s,
    
    hotline_aht_s(talk_ms, hold_ms, acw_ms, answered) AS aht_s,
    
    hotline_satisfaction(survey_satisfied, survey_basic, survey_responses) AS satisfaction,
    
    hotline_survey_response_rate(survey_responses, answered) AS survey_response_rate,
    
    hotline_self_service_rate(self_served, offered) AS self_service_rate,
    
    hotline_repeat_rate(repeat_7d, answered) AS repeat_rate,
    
    hotline_ratio(transferred, answered) AS transfer_rate
FROM
(
    SELECT grain, bucket, level, region_code, province_code, business_line, channel,
        offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
    FROM {database}.metric_counters_day
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
    FROM {database}.metric_counters_day
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
    FROM {database}.metric_counters_day
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
    FROM {database}.metric_counters_day
    GROUP BY grain, bucket, level, region_code, province_code
);

CREATE OR REPLACE VIEW {database}.metric_rates_month AS
SELECT
    grain, bucket, level, region_code, province_code, business_line, channel,
    offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late,
    
    hotline_connection_rate(answered, queued) AS connection_rate,
    
    hotline_service_level(answered_in_sl, queued, short_abandoned) AS service_level,
    
    hotline_abandon_rate(abandoned, short_abandoned, queued) AS abandon_rate,
    
    hotline_asa_s(wait_ms_answered, answered) AS asa_s,
    
    hotline_aht_s(talk_ms, hold_ms, acw_ms, answered) AS aht_s,
    
    hotline_satisfaction(survey_satisfied, survey_basic, survey_responses) AS satisfaction,
    
    hotline_survey_response_rate(survey_responses, answered) AS survey_response_rate,
    
    hotline_self_service_rate(self_served, offered) AS self_service_rate,
    
    hotline_repeat_rate(repeat_7d, answered) AS repeat_rate,
    
    hotline_ratio(transferred, answered) AS transfer_rate
FROM
(
    SELECT grain, bucket, level, region_code, province_code, business_line, channel,
        offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
    FROM {database}.metric_counters_month
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
    FROM {database}.metric_counters_month
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
    FROM {database}.metric_counters_month
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
    FROM {database}.metric_counters_month
    GROUP BY grain, bucket, level, region_code, province_code
);

CREATE OR REPLACE VIEW {database}.metric_rates_year AS
SELECT
    grain, bucket, level, region_code, province_code, business_line, channel,
    offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late,
    
    hotline_connection_rate(answered, queued) AS connection_rate,
    
    hotline_service_level(answered_in_sl, queued, short_abandoned) AS service_level,
    
    hotline_abandon_rate(abandoned, short_abandoned, queued) AS abandon_rate,
    
    hotline_asa_s(wait_ms_answered, answered) AS asa_s,
    
    hotline_aht_s(talk_ms, hold_ms, acw_ms, answered) AS aht_s,
    
    hotline_satisfaction(survey_satisfied, survey_basic, survey_responses) AS satisfaction,
    
    hotline_survey_response_rate(survey_responses, answered) AS survey_response_rate,
    
    hotline_self_service_rate(self_served, offered) AS self_service_rate,
    
    hotline_repeat_rate(repeat_7d, answered) AS repeat_rate,
    
    hotline_ratio(transferred, answered) AS transfer_rate
FROM
(
    SELECT grain, bucket, level, region_code, province_code, business_line, channel,
        offered, self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, survey_dissatisfied, closed_by_timeout, late
    FROM {database}.metric_counters_year
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
    FROM {database}.metric_counters_year
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
    FROM {database}.metric_counters_year
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
    FROM {database}.metric_counters_year
    GROUP BY grain, bucket, level, region_code, province_code
);
