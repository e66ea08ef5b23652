-- sequence_gaps re-keyed by their identity, as alerts in 0019: ORDER BY (province_code,
-- alert_id), no partition, the 2-year TTL kept.
--
-- A gap's id is the hash of its producer and missing range (streams/alerts.py, gap_record);
-- its opened_at is when the worker noticed it, which a replay after a kill -9 can notice at
-- another point (the source partitions interleaved otherwise). Under the old sort key
-- (province_code, opened_at, alert_id) and partition (the China month of opened_at), such
-- copies were two rows that never merged: an analyst's count of gaps or missing events counted
-- the gap twice. Now every copy of a gap id is one row (all are version 1: the latest insert
-- wins, as ReplacingMergeTree keeps). The copy is 0019's: every row, ordered by its old part's
-- first block (for copies already merged into one part, either may be kept: they differ only
-- in when the gap was noticed), swapped in atomically. Re-runnable. Run it with the sink
-- stopped.

CREATE OR REPLACE TABLE {database}.sequence_gaps
(
    alert_id String,
    kind LowCardinality(String),
    severity LowCardinality(String),
    region_code LowCardinality(String),
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    center_id LowCardinality(String),
    opened_at DateTime64(3, 'UTC'),
    closed_at Nullable(DateTime64(3, 'UTC')),
    message String CODEC(ZSTD(3)),
    dedupe_key String COMMENT 'names the producer and the missing sequence range',
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (province_code, alert_id)
TTL toDateTime(opened_at) + INTERVAL 2 YEAR
COMMENT 'gaps in producers\' sequence numbers (records of hotline.sequence-gaps), one row per gap id'
AS SELECT alert_id, kind, severity, region_code, province_code, center_id, opened_at, closed_at,
    message, dedupe_key, version
FROM {database}.sequence_gaps
ORDER BY toUInt64(splitByChar('_', _part)[2]), version;
