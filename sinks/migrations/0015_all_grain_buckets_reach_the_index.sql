-- metric_counters (0004), the view of every grain, states the China-time bucket of its day,
-- month and year branches as CAST(… AS DateTime('Asia/Shanghai')), as 0014 did for the
-- per-grain views: toDateTime(date, 'Asia/Shanghai') does not reach bucket_start in the
-- rollups' primary key, so an analyst's `metric_counters WHERE grain = 'day' AND bucket >= …`
-- (or metric_rates, which reads this view by name) read every day of its level and region.
-- It is now the UNION ALL of the per-grain views (0009, 0014), which hold the same branches:
-- the same columns, types and rows as before (the two expressions give the same value for
-- every Date, 0014). No data is touched; re-runnable.


CREATE OR REPLACE VIEW {database}.metric_counters AS
SELECT * FROM {database}.metric_counters_minute
UNION ALL
SELECT * FROM {database}.metric_counters_hour
UNION ALL
SELECT * FROM {database}.metric_counters_day
UNION ALL
SELECT * FROM {database}.metric_counters_month
UNION ALL
SELECT * FROM {database}.metric_counters_year;
