-- alerts re-keyed by their identity: ORDER BY (province_code, alert_id), no partition.
--
-- An alert's id is the hash of its dedupe key and episode (streams/alerts.py); its other fields
-- are what one derivation said. Two derivations of the same alert — the live run, and the
-- replay of a step whose outputs reached Kafka before a kill -9 lost its state writes — can
-- differ in opened_at: a windowed rule opens at the first window end found bad, which depends
-- on the late records read by then; a complaint's due alert opened at its warning time when the
-- watermark passed it, at its due time when one step jumped over both. The old sort key
-- (province_code, kind, opened_at, alert_id) and partition (the month of opened_at) made such
-- copies two rows that never merge: FINAL (the dashboard's alert feed, analysts) showed the
-- alert twice, and the copy the stream no longer updated stayed open for ever. A ReplacingMergeTree
-- deduplicates on its whole sort key within a partition, so the key must be the identity alone:
-- now every version of an alert id is one row (the highest version; between equal versions the
-- latest insert, as ReplacingMergeTree keeps). province_code stays first for the analysts' row
-- filters (analyst_<province>, infra/clickhouse_users.py: by table name, so they apply to the
-- new table as they did to the old). Alerts are few (dozens a day per province): no partition.
--
-- The copy swaps the new table in atomically (CREATE OR REPLACE … AS SELECT, as 0007). It copies
-- every row, older versions included, ordered by the first block number of its old part, so
-- that between equal versions in parts not merged yet the later insert still wins. Once a merge
-- has put an earlier and a later insert into one part, their order is that part's first block,
-- and a copy in another month's partition may then sort after the later insert: the
-- insertion order is not known any more, and the copy kept between such equal versions may be
-- either (a higher version, e.g. the close, always wins). Re-runnable: a second run copies the
-- re-keyed table again. Run it with the sink stopped, as every migration.

CREATE OR REPLACE TABLE {database}.alerts
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
    dedupe_key String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (province_code, alert_id)
COMMENT 'alerts, one row per alert id (highest version wins); open while closed_at is null'
AS SELECT alert_id, kind, severity, region_code, province_code, center_id, opened_at, closed_at,
    message, dedupe_key, version
FROM {database}.alerts
ORDER BY toUInt64(splitByChar('_', _part)[2]), version;
