-- Agent time per minute at every level (streams: agent_time.snapshot on hotline.metrics.agents),
-- and occupancy per level × region × China day for analysts.
--
-- agent_minute: the streams' AgentTimeSnapshot records as they are, ReplacingMergeTree(version)
-- keyed by (level, region, bucket): writing a snapshot twice, or an older one after a newer
-- one, leaves the highest version. Read it with FINAL. The sort key follows 0007's rollups,
-- (level, bucket_start, province_code, region_code): one level over a time range for many
-- regions is one range of the index, a province filter narrows within it. metric_minute keeps
-- its province-first key only for the sink's rollup recompute; nothing recomputes from
-- agent_minute (no rollups: the view below sums minutes per day). Partitioned by UTC month like
-- metric_minute. No TTL, like the metric tables.
--
-- region_occupancy: Σ handle time (talk + hold + acw: metric_day FINAL, every business line
-- and channel) / Σ staffed_ms (agent_minute FINAL), per level, region and China calendar day,
-- like center_occupancy per center. Both tables carry the same (level, region_code) of the
-- streams' roll-ups (region_at) and the sink's province_code, so the two are summed in one
-- GROUP BY over a UNION ALL of their FINAL reads rather than joined: a WHERE on level,
-- region_code, province_code or day (and the analyst_<province> row filter) reaches both
-- reads' primary keys (as in 0006), where a FULL JOIN on those columns read both tables whole.
-- A call's handle time counts in the day of its offered minute, agent time in the minute it was
-- spent: a call across midnight puts its handle time on the earlier day. A key present on one
-- side only counts 0 on the other; occupancy is NULL when staffed_ms is 0. Re-runnable.

CREATE TABLE IF NOT EXISTS {database}.agent_minute
(
    level LowCardinality(String) COMMENT 'county | city | province | national',
    region_code LowCardinality(String) COMMENT 'GB/T 2260 code of the level; 000000 for the nation',
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000') COMMENT 'filled by the sink from the region registry (000000 for the nation)',
    bucket_start DateTime('UTC') CODEC(Delta, ZSTD(1)) COMMENT 'start of the minute (UTC)',
    staffed_ms UInt64 CODEC(T64, ZSTD(1)) COMMENT 'ready + on call + after-call work: the occupancy denominator',
    ready_ms UInt64 CODEC(T64, ZSTD(1)) COMMENT 'ready for a call',
    on_call_ms UInt64 CODEC(T64, ZSTD(1)) COMMENT 'on a call',
    acw_ms UInt64 CODEC(T64, ZSTD(1)) COMMENT 'after-call work (not_ready with reason acw)',
    not_ready_ms UInt64 CODEC(T64, ZSTD(1)) COMMENT 'logged in, not ready for any other reason (not staffed)',
    version UInt64 COMMENT 'monotonic per (level, region, bucket): the highest wins'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(bucket_start)
ORDER BY (level, bucket_start, province_code, region_code)
COMMENT 'agent time per minute at every level (highest version wins)';

CREATE OR REPLACE VIEW {database}.region_occupancy AS
SELECT
    level, region_code, province_code, day,
    handle_ms, staffed_ms,
    hotline_occupancy(handle_ms, staffed_ms) AS occupancy
FROM
(
    SELECT level, region_code, province_code, day,
           sum(handle_part) AS handle_ms, sum(staffed_part) AS staffed_ms
    FROM
    (
        SELECT level, region_code, province_code, bucket_start AS day,
               talk_ms + hold_ms + acw_ms AS handle_part, toUInt64(0) AS staffed_part
        FROM {database}.metric_day FINAL
        UNION ALL
        SELECT level, region_code, province_code, toDate(bucket_start, 'Asia/Shanghai') AS day,
               toUInt64(0) AS handle_part, staffed_ms AS staffed_part
        FROM {database}.agent_minute FINAL
    )
    GROUP BY level, region_code, province_code, day
);
