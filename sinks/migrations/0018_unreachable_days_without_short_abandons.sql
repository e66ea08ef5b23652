-- qa_live_unreachable_days leaves short abandons out, as the streams' unreachable alert does.
--
-- 0005's view counted a day on which a center queued callers and answered none as unreachable,
-- so a day whose only queued calls were short abandons (callers who hung up within the
-- short-abandon threshold, 5 s by default: they did not wait to be answered) named the center
-- unreachable in the quality report. Now a day counts when callers who waited past that
-- threshold were queued and none was answered. Same columns (queued, answered: all of the
-- day's); re-runnable.

CREATE OR REPLACE VIEW {database}.qa_live_unreachable_days AS
SELECT
    center_id,
    province_code,
    day,
    sum(queued) AS queued,
    sum(answered) AS answered
FROM {database}.call_records FINAL
GROUP BY center_id, province_code, day
HAVING queued - sum(short_abandoned) > 0 AND answered = 0;
