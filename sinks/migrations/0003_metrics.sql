-- Metric snapshots per minute at every level, and hour / day / month rollups.
--
-- metric_minute: the streams' MetricSnapshot records as they are, ReplacingMergeTree(version)
-- keyed by (level, region, bucket, business line, channel): writing a snapshot twice, or an
-- older one after a newer one, leaves the highest version. Read it with FINAL.
--
-- Rollups are NOT fed by materialized views: an MV sees every inserted block, so a snapshot
-- written twice (redelivery) or a newer version of a snapshot would be added twice. Instead the
-- sink, after each confirmed snapshot insert and before it commits the Kafka offsets,
-- recomputes the touched (province, hour) groups from `metric_minute FINAL`, then the touched
-- days from `metric_hour FINAL`, then the months from `metric_day FINAL`, with
-- INSERT … SELECT. Each rollup row is versioned by `computed_at` (now64 at the start of the
-- recomputing query, i.e. when it took its snapshot of the parts), so the latest recompute
-- wins; a recompute that started after the last minute insert committed sees all of it.
-- Keys never disappear from metric_minute (a retraction is a zero snapshot at a higher
-- version), so recomputing a group replaces every row of it. docs/storage.md has the argument.
--
-- Buckets: minute and hour buckets are UTC instants; days and months are China calendar days
-- (Asia/Shanghai), the way provinces report.

CREATE TABLE IF NOT EXISTS {database}.metric_minute
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
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(bucket_start)
ORDER BY (province_code, level, region_code, bucket_start, business_line, channel)
COMMENT 'minute snapshots at every level (highest version wins)';

CREATE TABLE IF NOT EXISTS {database}.metric_hour
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
ORDER BY (province_code, level, region_code, bucket_start, business_line, channel)
COMMENT 'hour rollup of metric_minute FINAL (latest recompute wins)';

CREATE TABLE IF NOT EXISTS {database}.metric_day
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
ORDER BY (province_code, level, region_code, bucket_start, business_line, channel)
COMMENT 'day rollup of metric_hour FINAL (latest recompute wins)';

CREATE TABLE IF NOT EXISTS {database}.metric_month
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
ORDER BY (province_code, level, region_code, bucket_start, business_line, channel)
COMMENT 'month rollup of metric_day FINAL (latest recompute wins)';
