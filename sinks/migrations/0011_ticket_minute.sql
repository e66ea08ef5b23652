-- Ticket counts per minute at every level (streams: ticket_count.snapshot on
-- hotline.metrics.tickets), and per level × region × China day × category for analysts.
--
-- ticket_minute: the streams' TicketCountSnapshot records as they are,
-- ReplacingMergeTree(version) keyed by (level, region, bucket, category): writing a snapshot
-- twice, or an older one after a newer one, leaves the highest version. Read it with FINAL.
-- A ticket counts created in the minute of its creation and, for each resolution, resolved
-- (and resolved_on_time when on time) in the resolution's minute, in the region and category
-- of its creation. The sort key is 0010's agent_minute key plus the category,
-- (level, bucket_start, province_code, region_code, category): one level over a time range for
-- many regions is one range of the index, a province filter narrows within it; nothing
-- recomputes from it by province (no rollups: the view below sums minutes per day).
-- Partitioned by UTC month like metric_minute and agent_minute. No TTL, like the metric tables.
--
-- region_ticket_rates: Σ created, Σ resolved, Σ resolved_on_time (ticket_minute FINAL) per
-- level, region, China calendar day and category, and the on-time resolution rate
-- hotline_on_time_rate(resolved_on_time, resolved) (NULL when nothing was resolved). The
-- counterpart of 0004's ticket_rates (from the tickets table: one row per ticket, its latest
-- resolution, per China month × province × city) at every level incl. the nation, like
-- region_occupancy next to center_occupancy. A WHERE on level, region_code, province_code,
-- category or day (and the analyst_<province> row filter) reaches ticket_minute's primary key:
-- they are grouping keys of one FINAL read, day a monotonic function of bucket_start. Re-runnable.

CREATE TABLE IF NOT EXISTS {database}.ticket_minute
(
    level LowCardinality(String) COMMENT 'county | city | province | national',
    region_code LowCardinality(String) COMMENT 'GB/T 2260 code of the level; 000000 for the nation',
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000') COMMENT 'filled by the sink from the region registry (000000 for the nation)',
    bucket_start DateTime('UTC') CODEC(Delta, ZSTD(1)) COMMENT 'start of the minute (UTC)',
    category LowCardinality(String) COMMENT 'ticket category of the creation: callback | complaint | report | suggestion | business_request | dangerous_call',
    created UInt64 CODEC(T64, ZSTD(1)) COMMENT 'tickets created in the minute',
    resolved UInt64 CODEC(T64, ZSTD(1)) COMMENT 'resolutions in the minute (a ticket reopened and resolved again counts again)',
    resolved_on_time UInt64 CODEC(T64, ZSTD(1)) COMMENT 'of those, at or before the due time then in force',
    version UInt64 COMMENT 'monotonic per (level, region, bucket, category): the highest wins'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(bucket_start)
ORDER BY (level, bucket_start, province_code, region_code, category)
COMMENT 'ticket counts per minute at every level (highest version wins)';

CREATE OR REPLACE VIEW {database}.region_ticket_rates AS
SELECT
    level, region_code, province_code, toDate(bucket_start, 'Asia/Shanghai') AS day, category,
    sum(created) AS created,
    sum(resolved) AS resolved,
    sum(resolved_on_time) AS resolved_on_time,
    hotline_on_time_rate(resolved_on_time, resolved) AS on_time_rate
FROM {database}.ticket_minute FINAL
GROUP BY level, region_code, province_code, day, category;
