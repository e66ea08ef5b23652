-- Quality monitoring (神秘顾客): evaluations of the yearly national campaign, coverage per
-- center and year derived from them, and unreachable days seen in live traffic.
-- docs/quality.md explains the columns and how the yearly report reads them.
--
-- qa_evaluations: one row per evaluation, ReplacingMergeTree(version) ordered by
-- evaluation_id alone (the only identity: a corrected row may change anything else), so a
-- re-imported or corrected evaluation replaces the old one. A few hundred rows a year: no
-- partitioning. Read with FINAL. Item columns are 0 when has_items = 0 (outcomes 3 and 4, or a
-- missing score sheet, which the report lists as an inconsistency). given_total is the total
-- written on an imported sheet (NULL when not given); the report always recomputes the total
-- from the items. Every statement is re-runnable.

CREATE TABLE IF NOT EXISTS {database}.qa_evaluations
(
    evaluation_id String,
    version UInt64,
    year UInt16 COMMENT 'campaign year',
    kind LowCardinality(String) COMMENT 'mystery_shopper | internal',
    center_id LowCardinality(String) COMMENT 'the evaluated center',
    region_code LowCardinality(String) COMMENT 'the evaluated center''s home region',
    province_code LowCardinality(String) DEFAULT concat(substring(region_code, 1, 2), '0000'),
    evaluator String,
    agent_id String COMMENT '\'\' when unknown',
    outcome UInt8 COMMENT '1 first try, person < 30 s; 2 first try, >= 30 s; 3 never connected; 4 not opened',
    human_service UInt8 COMMENT 'the line offers a person (转人工)',
    tries Array(DateTime64(3, 'UTC')) COMMENT 'start of every dialling try',
    has_items UInt8,
    states_agent_number UInt8,
    polite_language UInt8,
    warm_tone UInt8,
    waits_for_caller_hangup UInt8,
    listens_patiently UInt8,
    grasps_and_guides UInt8,
    proper_closing UInt8,
    no_dead_air UInt8,
    responds_actively UInt8,
    accurate_complete UInt8,
    fits_caller UInt8,
    given_total Nullable(UInt8),
    source LowCardinality(String) COMMENT 'campaign | csv | event',
    note String,
    inserted_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY evaluation_id
COMMENT 'one row per QA evaluation (highest version wins); read with FINAL';

-- Coverage of the campaign per year and center: dialled, 12333 opened, human service offered,
-- reached by a person. A center evaluated twice in a year counts once (and the report lists
-- the duplicate).
CREATE VIEW IF NOT EXISTS {database}.qa_center_coverage AS
SELECT
    year,
    province_code,
    center_id,
    count() AS evaluations,
    1 AS dialled,
    max(outcome != 4) AS opened,
    max(outcome != 4 AND human_service = 1) AS human_service,
    max(outcome IN (1, 2)) AS reached,
    max(length(tries)) AS most_tries
FROM {database}.qa_evaluations FINAL
WHERE kind = 'mystery_shopper'
GROUP BY year, province_code, center_id;

-- Live traffic: a day on which a center queued callers for a person and answered none of them
-- (its line was unstaffed during its human-service hours that day).
CREATE VIEW IF NOT EXISTS {database}.qa_live_unreachable_days AS
SELECT
    center_id,
    province_code,
    day,
    sum(queued) AS queued,
    sum(answered) AS answered
FROM {database}.call_records FINAL
GROUP BY center_id, province_code, day
HAVING queued > 0 AND answered = 0;
