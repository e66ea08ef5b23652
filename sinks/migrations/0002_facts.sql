-- Facts: one row per call, the latest row per ticket plus every ticket version, agent states,
-- alerts, dead letters and sequence gaps. docs/storage.md explains the choices.
--
-- Exactly-once effect: every table is a ReplacingMergeTree whose ORDER BY is the identity of
-- the record (and whose partition key is a function of that identity), so a redelivered record
-- lands on the same key; versioned records keep the highest `version`, immutable ones collapse
-- into one identical row. Read with FINAL (or argMax) for exact answers before merges ran.
--
-- Province columns are what the per-province row filters of users.xml test
-- (infra/clickhouse_users.py FILTERED_TABLES). The sink fills them from the region registry
-- (hotline.sinks.rows.place: the Corps' 6590xx cities belong to 660000); the DEFAULT
-- (first two digits + '0000') only serves rows inserted by hand.
-- Every statement is re-runnable.

CREATE TABLE IF NOT EXISTS {database}.call_records
(
    call_id String,
    center_id LowCardinality(String),
    region_code LowCardinality(String),
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    city_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 4), '00'),
    channel LowCardinality(String),
    business_line LowCardinality(String) COMMENT '\'\' when the call never reached a queue',
    agent_id String COMMENT '\'\' when no agent answered',
    started_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    ended_at Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    day Date DEFAULT toDate(started_at, 'Asia/Shanghai') COMMENT 'China calendar day of the start',
    offered UInt8,
    self_served UInt8,
    queued UInt8,
    answered UInt8,
    abandoned UInt8,
    short_abandoned UInt8,
    answered_in_sl UInt8,
    wait_ms UInt64 CODEC(T64, ZSTD(1)),
    talk_ms UInt64 CODEC(T64, ZSTD(1)),
    hold_ms UInt64 CODEC(T64, ZSTD(1)),
    acw_ms UInt64 CODEC(T64, ZSTD(1)),
    transferred UInt8,
    transfer_target LowCardinality(String),
    caller_hung_up_first UInt8,
    repeat_7d UInt8,
    survey_result LowCardinality(String) COMMENT 'satisfied | basic | dissatisfied | \'\' (none)',
    closed_by_timeout UInt8,
    short_abandon_threshold_ms UInt32,
    service_level_threshold_ms UInt32,
    version UInt64,
    inserted_at DateTime DEFAULT now() CODEC(Delta, ZSTD(1))
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (province_code, region_code, day, call_id)
COMMENT 'one row per call (highest version wins); the identity (region, start day, call_id) is fixed by call.offered';

CREATE TABLE IF NOT EXISTS {database}.tickets
(
    ticket_id String,
    center_id LowCardinality(String),
    region_code LowCardinality(String),
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    city_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 4), '00'),
    call_id String,
    category LowCardinality(String),
    business_line LowCardinality(String),
    status LowCardinality(String),
    created_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    due_at DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    resolved_at Nullable(DateTime64(3, 'UTC')),
    closed_at Nullable(DateTime64(3, 'UTC')),
    callbacks UInt32,
    reopens UInt32,
    on_time Nullable(UInt8),
    overdue UInt8,
    as_of DateTime64(3, 'UTC'),
    version UInt64,
    inserted_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at, 'Asia/Shanghai')
ORDER BY (province_code, region_code, ticket_id)
COMMENT 'latest state per ticket (highest version wins)';

CREATE TABLE IF NOT EXISTS {database}.ticket_history
(
    ticket_id String,
    region_code LowCardinality(String),
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    center_id LowCardinality(String),
    category LowCardinality(String),
    business_line LowCardinality(String),
    status LowCardinality(String),
    created_at DateTime64(3, 'UTC'),
    due_at DateTime64(3, 'UTC'),
    resolved_at Nullable(DateTime64(3, 'UTC')),
    closed_at Nullable(DateTime64(3, 'UTC')),
    on_time Nullable(UInt8),
    overdue UInt8,
    as_of DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    version UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at, 'Asia/Shanghai')
ORDER BY (province_code, region_code, ticket_id, version)
COMMENT 'every version of every ticket (one row per ticket and version)';

CREATE TABLE IF NOT EXISTS {database}.agent_states
(
    event_id String,
    agent_id String,
    center_id LowCardinality(String),
    region_code LowCardinality(String),
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    state LowCardinality(String) COMMENT 'logged_in | ready | not_ready | on_call | logged_out',
    reason LowCardinality(String) COMMENT 'not_ready reason (break, training, acw, other), else \'\'',
    occurred_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    producer_id LowCardinality(String),
    sequence UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at, 'Asia/Shanghai')
ORDER BY (province_code, center_id, agent_id, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL 3 YEAR
COMMENT 'agent state changes (raw agent.state events, one row per event id); agent time derives from them';

CREATE TABLE IF NOT EXISTS {database}.alerts
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
PARTITION BY toYYYYMM(opened_at, 'Asia/Shanghai')
ORDER BY (province_code, kind, opened_at, alert_id)
COMMENT 'alerts; open while closed_at is null (highest version wins)';

CREATE TABLE IF NOT EXISTS {database}.sequence_gaps
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
PARTITION BY toYYYYMM(opened_at, 'Asia/Shanghai')
ORDER BY (province_code, opened_at, alert_id)
TTL toDateTime(opened_at) + INTERVAL 2 YEAR
COMMENT 'gaps in producers\' sequence numbers (records of hotline.sequence-gaps)';

CREATE TABLE IF NOT EXISTS {database}.dead_letters
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
PARTITION BY toYYYYMM(failed_at)
ORDER BY (source_topic, source_partition, source_offset, stage)
TTL toDateTime(failed_at) + INTERVAL 2 YEAR
COMMENT 'messages that could not be processed, one row per source message and stage';
