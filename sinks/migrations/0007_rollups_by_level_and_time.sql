-- The hour, day and month rollups re-sorted by (level, bucket_start, province_code, region_code,
-- business_line, channel), so that the dashboards' reads — one level, a time range, many
-- regions (every province this month, the cities of a province over 7 days) — are one
-- contiguous range of the primary index instead of a few granules in every province's block.
-- Granules of 1024 rows (not 8192): a drill-down reads many short ranges (the counties of one
-- city: a few hundred rows per day inside the day's block), and every range costs at least a
-- granule under FINAL; over a simulated year this halved the day-grain dashboard queries.
--
-- Identity does not change: the sort key holds the same columns (a ReplacingMergeTree
-- deduplicates on the whole key, whatever its order) and the partition (the year; none for
-- months) is still a function of bucket_start. Per-province readers (the analyst_<province>
-- row filters, the sink's recompute of touched (province, bucket) groups) still use the index:
-- level and bucket_start come first, then province_code.
--
-- Each statement copies its table into a new one with the new key and swaps it in atomically
-- (CREATE OR REPLACE … AS SELECT in an Atomic database: create the new table, fill it, exchange
-- the two, drop the old one). It copies every row as it is, duplicates and older versions
-- included, so FINAL reads the same results; re-running it copies the re-sorted table again
-- (no effect). Run it with the sink stopped, as every migration (the stack migrates before it
-- starts the sink): rows recomputed into the old table during the copy would be dropped with
-- it. The copy reads each table once (minutes for a year of national data).
-- metric_minute keeps its key: the sink's recompute reads it by province and hour.

CREATE OR REPLACE TABLE {database}.metric_hour
(
    level LowCardinality(String) COMMENT 'county | city | province | national',
    region_code LowCardinality(String) COMMENT 'GB/T 2260 code of the level; 000000 for the nation',
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    business_line LowCardinality(String) COMMENT '\'\' for calls that never reached a queue',
    channel LowCardinality(String),
    bucket_start DateTime('UTC') CODEC(Delta, ZSTD(1)),
    offered UInt64 CODEC(T64, ZSTD(1)),
    self_served UInt64 CODEC(T64, ZSTD(1)),
    queued UInt64 CODEC(T64, ZSTD(1)),
    answered UInt64 CODEC(T64, ZSTD(1)),
    abandoned UInt64 CODEC(T64, ZSTD(1)),
    short_abandoned UInt64 CODEC(T64, ZSTD(1)),
    answered_in_sl UInt64 CODEC(T64, ZSTD(1)),
    wait_ms_answered UInt64 CODEC(T64, ZSTD(1)),
    wait_ms_abandoned UInt64 CODEC(T64, ZSTD(1)),
    talk_ms UInt64 CODEC(T64, ZSTD(1)),
    hold_ms UInt64 CODEC(T64, ZSTD(1)),
    acw_ms UInt64 CODEC(T64, ZSTD(1)),
    transferred UInt64 CODEC(T64, ZSTD(1)),
    caller_hung_up_first UInt64 CODEC(T64, ZSTD(1)),
    repeat_7d UInt64 CODEC(T64, ZSTD(1)),
    survey_responses UInt64 CODEC(T64, ZSTD(1)),
    survey_satisfied UInt64 CODEC(T64, ZSTD(1)),
    survey_basic UInt64 CODEC(T64, ZSTD(1)),
    survey_dissatisfied UInt64 CODEC(T64, ZSTD(1)),
    closed_by_timeout UInt64 CODEC(T64, ZSTD(1)),
    late UInt64 CODEC(T64, ZSTD(1)),
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYear(bucket_start)
ORDER BY (level, bucket_start, province_code, region_code, business_line, channel)
SETTINGS index_granularity = 1024
COMMENT 'hour rollup of metric_minute FINAL (latest recompute wins)'
AS SELECT * FROM {database}.metric_hour;

CREATE OR REPLACE TABLE {database}.metric_day
(
    level LowCardinality(String) COMMENT 'county | city | province | national',
    region_code LowCardinality(String) COMMENT 'GB/T 2260 code of the level; 000000 for the nation',
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    business_line LowCardinality(String) COMMENT '\'\' for calls that never reached a queue',
    channel LowCardinality(String),
    bucket_start Date COMMENT 'China calendar day',
    offered UInt64 CODEC(T64, ZSTD(1)),
    self_served UInt64 CODEC(T64, ZSTD(1)),
    queued UInt64 CODEC(T64, ZSTD(1)),
    answered UInt64 CODEC(T64, ZSTD(1)),
    abandoned UInt64 CODEC(T64, ZSTD(1)),
    short_abandoned UInt64 CODEC(T64, ZSTD(1)),
    answered_in_sl UInt64 CODEC(T64, ZSTD(1)),
    wait_ms_answered UInt64 CODEC(T64, ZSTD(1)),
    wait_ms_abandoned UInt64 CODEC(T64, ZSTD(1)),
    talk_ms UInt64 CODEC(T64, ZSTD(1)),
    hold_ms UInt64 CODEC(T64, ZSTD(1)),
    acw_ms UInt64 CODEC(T64, ZSTD(1)),
    transferred UInt64 CODEC(T64, ZSTD(1)),
    caller_hung_up_first UInt64 CODEC(T64, ZSTD(1)),
    repeat_7d UInt64 CODEC(T64, ZSTD(1)),
    survey_responses UInt64 CODEC(T64, ZSTD(1)),
    survey_satisfied UInt64 CODEC(T64, ZSTD(1)),
    survey_basic UInt64 CODEC(T64, ZSTD(1)),
    survey_dissatisfied UInt64 CODEC(T64, ZSTD(1)),
    closed_by_timeout UInt64 CODEC(T64, ZSTD(1)),
    late UInt64 CODEC(T64, ZSTD(1)),
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYear(bucket_start)
ORDER BY (level, bucket_start, province_code, region_code, business_line, channel)
SETTINGS index_granularity = 1024
COMMENT 'day rollup of metric_hour FINAL (latest recompute wins)'
AS SELECT * FROM {database}.metric_day;

CREATE OR REPLACE TABLE {database}.metric_month
(
    level LowCardinality(String) COMMENT 'county | city | province | national',
    region_code LowCardinality(String) COMMENT 'GB/T 2260 code of the level; 000000 for the nation',
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    business_line LowCardinality(String) COMMENT '\'\' for calls that never reached a queue',
    channel LowCardinality(String),
    bucket_start Date COMMENT 'first day of the China calendar month',
    offered UInt64 CODEC(T64, ZSTD(1)),
    self_served UInt64 CODEC(T64, ZSTD(1)),
    queued UInt64 CODEC(T64, ZSTD(1)),
    answered UInt64 CODEC(T64, ZSTD(1)),
    abandoned UInt64 CODEC(T64, ZSTD(1)),
    short_abandoned UInt64 CODEC(T64, ZSTD(1)),
    answered_in_sl UInt64 CODEC(T64, ZSTD(1)),
    wait_ms_answered UInt64 CODEC(T64, ZSTD(1)),
    wait_ms_abandoned UInt64 CODEC(T64, ZSTD(1)),
    talk_ms UInt64 CODEC(T64, ZSTD(1)),
    hold_ms UInt64 CODEC(T64, ZSTD(1)),
    acw_ms UInt64 CODEC(T64, ZSTD(1)),
    transferred UInt64 CODEC(T64, ZSTD(1)),
    caller_hung_up_first UInt64 CODEC(T64, ZSTD(1)),
    repeat_7d UInt64 CODEC(T64, ZSTD(1)),
    survey_responses UInt64 CODEC(T64, ZSTD(1)),
    survey_satisfied UInt64 CODEC(T64, ZSTD(1)),
    survey_basic UInt64 CODEC(T64, ZSTD(1)),
    survey_dissatisfied UInt64 CODEC(T64, ZSTD(1)),
    closed_by_timeout UInt64 CODEC(T64, ZSTD(1)),
    late UInt64 CODEC(T64, ZSTD(1)),
    computed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY tuple()
ORDER BY (level, bucket_start, province_code, region_code, business_line, channel)
SETTINGS index_granularity = 1024
COMMENT 'month rollup of metric_day FINAL (latest recompute wins)'
AS SELECT * FROM {database}.metric_month;
