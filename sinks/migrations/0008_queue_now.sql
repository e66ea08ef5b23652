-- The live queue: calls waiting per center now (streams: queue.snapshot on
-- hotline.metrics.queues), for the dashboards' center page.
--
-- queue_now: ReplacingMergeTree(as_of) ordered by (province_code, center_id), so each center
-- keeps its newest snapshot after merges; read it with FINAL (or argMax over as_of). A
-- snapshot is sent when a center's queue changes, or once a minute unchanged; merges collapse
-- each center to its newest row, so the table stays about one row per center. It answers
-- "now"; the metric tables answer history. Re-runnable.

CREATE TABLE IF NOT EXISTS {database}.queue_now
(
    center_id LowCardinality(String),
    region_code LowCardinality(String) COMMENT 'the center''s home region',
    province_code LowCardinality(String),
    as_of DateTime64(3, 'UTC') COMMENT 'the latest event time the worker had seen',
    waiting UInt32 COMMENT 'calls queued and not yet answered, abandoned or ended',
    longest_wait_ms UInt64 COMMENT 'the longest of their waits at as_of'
)
ENGINE = ReplacingMergeTree(as_of)
ORDER BY (province_code, center_id)
COMMENT 'calls waiting per center now (newest as_of wins)';
