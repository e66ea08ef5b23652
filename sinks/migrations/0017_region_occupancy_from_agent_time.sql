-- region_occupancy takes its handle time from the agents' side: Σ (on call + after-call work) /
-- Σ staffed time (ready + on call + after-call work), both from agent_minute.
--
-- 0010's view took handle time from metric_day (talk + hold + acw of the calls), counted in the
-- region of the *call*, and staffed time from agent_minute, counted in the region of the
-- agent's *center*. Below province level the two were different populations: a city center's
-- agents are all in the city's own row (county 320100) while its calls are in the districts,
-- so a district's occupancy was NULL and the city's own row far too low (0.118 where its
-- agents were busy 0.768 of their staffed time); likewise a unit served by a center above it
-- (仙桃 429004, the Corps' cities, a centralized province's cities). Now numerator and
-- denominator are the same agents' time: a region with agents has their occupancy, one without
-- (a district served by its city's center) has none (NULL, staffed_ms 0: no row at all). At
-- province and national level the figures are those of before whenever the agents' on-call and
-- ACW time equals their calls' talk, hold and ACW (the simulator's, exactly); agent time counts
-- on the China day it was spent. Same columns; one table read; no data touched; re-runnable.

CREATE OR REPLACE VIEW {database}.region_occupancy AS
SELECT
    level, region_code, province_code, day,
    handle_ms, staffed_ms,
    hotline_occupancy(handle_ms, staffed_ms) AS occupancy
FROM
(
    SELECT level, region_code, province_code, toDate(bucket_start, 'Asia/Shanghai') AS day,
           sum(on_call_ms + acw_ms) AS handle_ms, sum(staffed_ms) AS staffed_ms
    FROM {database}.agent_minute FINAL
    GROUP BY level, region_code, province_code, day
);
