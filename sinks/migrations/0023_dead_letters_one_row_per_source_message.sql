-- dead_letters without the month partition, as alerts in 0019 and sequence_gaps in 0020:
-- ORDER BY (source_topic, source_partition, source_offset, stage) as before, the 2-year TTL
-- kept.
--
-- A dead letter's identity is its source message and stage; its failed_at is when a process
-- gave up on it, which a replay after a crash (the stream worker's groups re-judging an
-- event, the sink re-reading a message it gave up on) stamps anew. Under the old partition
-- (the UTC month of failed_at) a replay in the next month was a second row that no merge
-- ever removed (merges stay within a partition; only FINAL hid it): an analyst's count of
-- dead letters without FINAL counted the message twice, for good. Now every copy
-- of a source message and stage is one row (no version: the latest insert wins, as
-- ReplacingMergeTree keeps). The copy is 0019's: every row, ordered by its old part's first
-- block (for copies already merged into one part, either may be kept: they differ only in
-- when they failed), swapped in atomically. Re-runnable. Run it with the sink stopped.

CREATE OR REPLACE TABLE {database}.dead_letters
(
    stage LowCardinality(String) COMMENT 'the step that gave up, e.g. streams.assemble or sinks.clickhouse',
    reason LowCardinality(String) COMMENT 'undecodable | invalid | processing_failed',
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset UInt64,
    original_base64 String CODEC(ZSTD(3)) COMMENT 'the original message bytes, base64',
    error_type LowCardinality(String),
    error_detail String CODEC(ZSTD(3)),
    failed_at DateTime64(3, 'UTC'),
    region_code LowCardinality(String) DEFAULT '' COMMENT 'when known from the payload, else \'\'',
    province_code LowCardinality(String) DEFAULT if(region_code = '', '', concat(substring(region_code, 1, 2), '0000'))
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset, stage)
TTL toDateTime(failed_at) + INTERVAL 2 YEAR
COMMENT 'messages that could not be processed, one row per source message and stage'
AS SELECT stage, reason, source_topic, source_partition, source_offset, original_base64,
    error_type, error_detail, failed_at, region_code, province_code
FROM {database}.dead_letters
ORDER BY toUInt64(splitByChar('_', _part)[2]);
