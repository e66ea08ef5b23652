-- call_records keeps what the IVR served a self-served call (CallRecord v2's
-- self_service_kind: pension_account, …); the sink dropped it, so analysts could split
-- self-service only by business line. '' for a call not self-served and for the rows stored
-- before this migration (their kind was not kept). Re-runnable.

ALTER TABLE {database}.call_records
    ADD COLUMN IF NOT EXISTS self_service_kind LowCardinality(String) DEFAULT ''
    COMMENT 'what the IVR served when self_served (CallRecord.self_service_kind); \'\' otherwise'
    AFTER self_served;
