-- qa_center_coverage counts the one evaluation per center and year that the report counts.
--
-- 0005's view took max(...) over every evaluation of a center in a year, so a center reached
-- on 6/3 and found not opened on 6/5 was "opened" and "reached" in the view while the yearly
-- report (reports/checks.py, latest_per_center) counts only the evaluation with the latest try
-- (ties: the highest evaluation_id) and says opened 0, reached 0. Here every coverage column
-- is argMax over that same key, (arrayMax(tries), evaluation_id). `evaluations` still counts
-- every evaluation (more than one: the report lists the duplicate), and most_tries is still
-- the most tries of any of them. Grouped by year and center like the national report, so a
-- center is one row even if its rows disagree on the region (province_code is the counted
-- evaluation's). The analyst_<province> row filter on qa_evaluations applies before the
-- choice, as the province report filters its rows before it. Rows that break a hard rule of
-- reports/records.py (only another tool than this package writes them) are still counted here;
-- the report leaves them out and lists them (stored_row_unusable). Same columns as 0005's
-- view, same types. Re-runnable.

CREATE OR REPLACE VIEW {database}.qa_center_coverage AS
SELECT
    year,
    toLowCardinality(argMax(evaluated_province, latest)) AS province_code,
    center_id,
    count() AS evaluations,
    1 AS dialled,
    argMax(is_opened, latest) AS opened,
    argMax(is_opened AND offers_person, latest) AS human_service,
    argMax(is_reached, latest) AS reached,
    max(length(tries)) AS most_tries
FROM
(
    SELECT
        year,
        center_id,
        province_code AS evaluated_province,
        outcome != 4 AS is_opened,
        human_service = 1 AS offers_person,
        outcome IN (1, 2) AS is_reached,
        tries,
        (arrayMax(tries), evaluation_id) AS latest
    FROM {database}.qa_evaluations FINAL
    WHERE kind = 'mystery_shopper'
)
GROUP BY year, center_id;
