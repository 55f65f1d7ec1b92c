-- clock_skew_summary's working state is an expanded object in memory
-- contexts shared by the groups of an aggregate context (quality_skew.c):
-- the plans that create, reset, copy, flatten and spill it.  Every answer is
-- compared with plain SQL, every stored summary with the one a plain serial
-- GROUP BY stores (md5 of the text form, byte for byte).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql
SET timezone = 'UTC';

SELECT setseed(0.25);
-- 600 devices of 1 to ~30 events, rows of a device spread over the table
-- (so each parallel worker holds a partial state of most devices), a few in
-- random order, the rest in arrival order; one NULL row.
CREATE TABLE qse_ev (id int, device int, ts timestamptz, sent_at timestamptz,
                     received_at timestamptz);
INSERT INTO qse_ev
SELECT g, d, ts, ts + (random() * 900)::int * interval '1 ms' + (d % 7 - 3) * interval '2 s',
       ts + (random() * 3000)::int * interval '1 ms'
FROM (SELECT g, (g * 7919) % 600 AS d,
             timestamptz '2024-05-01' + (random() * 86400)::int * interval '1 s' AS ts
      FROM generate_series(1, 9000) g
      WHERE g % 600 <= (g * 7919) % 600 % 31 * 20) x
ORDER BY CASE WHEN d % 5 = 0 THEN random() ELSE 0 END, g;
INSERT INTO qse_ev SELECT 0, min(device), NULL, now(), now() FROM qse_ev;
ANALYZE qse_ev;
SELECT count(*) AS events, count(DISTINCT device) AS devices FROM qse_ev;

CREATE VIEW qse_ref AS
SELECT device::text AS k,
       concat_ws(' ', count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY sent_at - received_at),
                 max(greatest(sent_at - received_at, received_at - sent_at)),
                 count(*) FILTER (WHERE ts > received_at),
                 count(*) FILTER (WHERE ts < runmax)) AS v
FROM (SELECT device, ts, sent_at, received_at,
             max(ts) OVER (PARTITION BY device ORDER BY received_at, ts
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS runmax
      FROM qse_ev WHERE ts IS NOT NULL) e
GROUP BY device;

CREATE TEMP TABLE qse_ref_t AS SELECT * FROM qse_ref;

-- The answers of a summary query (a SELECT of device, s) and its stored form.
CREATE FUNCTION pg_temp.qse_answers(q text) RETURNS text LANGUAGE sql AS $$
  SELECT format($q$SELECT device::text AS k,
       concat_ws(' ', apivalue.event_count(s), apivalue.median_offset(s), apivalue.max_abs_offset(s),
                 apivalue.future_count(s), apivalue.out_of_order_count(s)) AS v
    FROM (%s) g$q$, q) $$;
CREATE FUNCTION pg_temp.qse_stored(q text) RETURNS text LANGUAGE sql AS $$
  SELECT format($q$SELECT device::text AS k, md5(s::text) AS v FROM (%s) g$q$, q) $$;
-- Whether the plan of q has a node of the given type (and property).
CREATE FUNCTION pg_temp.qse_has(q text, path text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || q INTO plan;
  RETURN jsonb_path_exists(plan, path::jsonpath);
END $$;

CREATE TEMP TABLE qse_q (name text, q text);
INSERT INTO qse_q VALUES
  ('group', 'SELECT device, apivalue.clock_skew_summary(ts, sent_at, received_at) AS s FROM qse_ev GROUP BY device'),
  ('rollup', 'SELECT device, apivalue.rollup(h) AS s FROM (SELECT device, id % 3 AS part, apivalue.clock_skew_summary(ts, sent_at, received_at) AS h FROM qse_ev GROUP BY 1, 2) x GROUP BY device'),
  ('window', 'SELECT DISTINCT ON (device) device, apivalue.clock_skew_summary(ts, sent_at, received_at) OVER (PARTITION BY device) AS s FROM qse_ev ORDER BY device'),
  ('grouping sets', 'SELECT device, s FROM (SELECT device, id % 2 AS half, apivalue.clock_skew_summary(ts, sent_at, received_at) AS s FROM qse_ev GROUP BY GROUPING SETS ((device), (id % 2))) x WHERE device IS NOT NULL'),
  ('rescanned', 'SELECT d.device, (SELECT apivalue.clock_skew_summary(ts, sent_at, received_at) FROM qse_ev e WHERE e.device = d.device) AS s FROM generate_series(0, 599) d(device) WHERE EXISTS (SELECT FROM qse_ev e WHERE e.device = d.device)');

-- The reference stored form: a plain serial GROUP BY.
SET max_parallel_workers_per_gather = 0;
SET enable_hashagg = off;
CREATE TEMP TABLE qse_serial (k text, v text);
DO $$ BEGIN
  EXECUTE 'INSERT INTO qse_serial ' || pg_temp.qse_stored((SELECT q FROM qse_q WHERE name = 'group'));
END $$;
RESET enable_hashagg;

-- Each query of qse_q under the current settings: answers against plain
-- SQL, stored summaries against the serial ones.
CREATE FUNCTION pg_temp.qse_check(names text[]) RETURNS TABLE (query text, compared bigint, wrong_answers bigint,
                                                   wrong_stored bigint, first_wrong text)
LANGUAGE sql AS $$
  SELECT n.name, a.compared, a.mismatches, s.mismatches, coalesce(a.first_mismatch, s.first_mismatch)
  FROM qse_q n
       CROSS JOIN LATERAL avtest.diff(pg_temp.qse_answers(n.q), 'SELECT * FROM qse_ref_t') a
       CROSS JOIN LATERAL avtest.diff(pg_temp.qse_stored(n.q), 'SELECT * FROM qse_serial') s
  WHERE n.name = ANY (names)
  ORDER BY n.name $$;

-- Serial, hash aggregation (every query), then grouping by sorting.
SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.qse_has((SELECT q FROM qse_q WHERE name = 'group'), '$.** ? (@."Strategy" == "Hashed")') AS hashed;
SELECT * FROM pg_temp.qse_check('{group,rollup,window,grouping sets,rescanned}');
SET enable_hashagg = off;
SELECT pg_temp.qse_has((SELECT q FROM qse_q WHERE name = 'group'), '$.** ? (@."Strategy" == "Sorted")') AS sorted;
SELECT * FROM pg_temp.qse_check('{group,rollup,grouping sets}');
RESET enable_hashagg;

-- Hash aggregation spilling to disk (work_mem far below the states' size):
-- groups finalized batch by batch, the aggregate context reset between.
CREATE FUNCTION pg_temp.qse_batches(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO plan;
  RETURN jsonb_path_exists(plan, '$.** ? (@."HashAgg Batches" > 1)');
END $$;
SET work_mem = '64kB';
SET enable_sort = off;
SELECT pg_temp.qse_batches((SELECT q FROM qse_q WHERE name = 'group')) AS spilled;
SELECT * FROM pg_temp.qse_check('{group,rollup}');

-- Parallel: two workers, each holding a partial state of most devices
-- (sent to the leader through a tuple queue), the leader only combining;
-- with the small work_mem first (partial and final hash aggregation
-- spilling), then hashed, then sorted.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT pg_temp.qse_has((SELECT q FROM qse_q WHERE name = 'group'), '$.** ? (@."Partial Mode" == "Partial")') AS partial;
SELECT pg_temp.qse_batches((SELECT q FROM qse_q WHERE name = 'group')) AS spilled;
SELECT * FROM pg_temp.qse_check('{group}');
RESET work_mem;
RESET enable_sort;
SELECT * FROM pg_temp.qse_check('{group,rollup,grouping sets}');
SET enable_hashagg = off;
SELECT * FROM pg_temp.qse_check('{group}');
RESET ALL;
SET timezone = 'UTC';

-- Running and sliding windows: the state grows row by row (running) or is
-- rebuilt for every row (a sliding frame restarts the aggregate, resetting
-- its context).  Against window count/max/sum over the same frames.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE apivalue.event_count(run) <> run_n
                           OR apivalue.max_abs_offset(run) <> run_max
                           OR apivalue.future_count(run) <> run_future) AS running_wrong,
       count(*) FILTER (WHERE apivalue.event_count(sl) <> sl_n
                           OR apivalue.max_abs_offset(sl) <> sl_max
                           OR apivalue.median_offset(sl) <> (SELECT o FROM unnest(sl_offsets) o
                                                              ORDER BY o OFFSET (sl_n - 1) / 2 LIMIT 1))
         AS sliding_wrong
FROM (SELECT apivalue.clock_skew_summary(ts, sent_at, received_at) OVER w AS run,
             count(*) OVER w AS run_n,
             max(greatest(sent_at - received_at, received_at - sent_at)) OVER w AS run_max,
             count(*) FILTER (WHERE ts > received_at) OVER w AS run_future,
             apivalue.clock_skew_summary(ts, sent_at, received_at) OVER s AS sl,
             count(*) OVER s AS sl_n,
             max(greatest(sent_at - received_at, received_at - sent_at)) OVER s AS sl_max,
             array_agg(sent_at - received_at) OVER s AS sl_offsets
      FROM qse_ev WHERE ts IS NOT NULL
      WINDOW w AS (PARTITION BY device ORDER BY id),
             s AS (PARTITION BY device ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)) x;

-- By hand: one device, events in arrival order b, a, c (offsets +4 s, -2 s,
-- +1 s); the running summary after each row, in a window, then rolled up
-- from per-row summaries (the rollup's state built by its combine function).
CREATE TABLE qse_hand (id int, ts timestamptz, sent_at timestamptz, received_at timestamptz);
INSERT INTO qse_hand VALUES
  (1, '2024-01-01 00:00:05', '2024-01-01 00:00:05', '2024-01-01 00:00:07'),
  (2, '2024-01-01 00:00:08', '2024-01-01 00:00:09', '2024-01-01 00:00:05'),
  (3, '2024-01-01 00:00:02', '2024-01-01 00:00:10', '2024-01-01 00:00:09');
SELECT id, apivalue.event_count(s), apivalue.median_offset(s), apivalue.future_count(s),
       apivalue.out_of_order_count(s)
FROM (SELECT id, apivalue.clock_skew_summary(ts, sent_at, received_at) OVER (ORDER BY id) AS s
      FROM qse_hand) x ORDER BY id;
SELECT apivalue.rollup(s)::text = (SELECT apivalue.clock_skew_summary(ts, sent_at, received_at)::text FROM qse_hand)
         AS rollup_same_as_direct
FROM (SELECT apivalue.clock_skew_summary(ts, sent_at, received_at) AS s FROM qse_hand GROUP BY id) x;

DROP TABLE qse_hand;
DROP VIEW qse_ref;
DROP TABLE qse_ev;
