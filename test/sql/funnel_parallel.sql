-- Parallel aggregation of window_funnel, window_funnel_times, retention and
-- funnel_counts: the test sets its own parallel GUCs, checks that the plan
-- really has a Partial Aggregate (so combine, serialize and deserialize run),
-- and compares every answer with the one computed without workers.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

SELECT setseed(0.7);
CREATE TABLE fp_events AS
SELECT (random() * 400)::int AS u, (random() * 2000)::int::bigint AS t,
       (ARRAY['A','B','C','D','X'])[1 + floor(random() * 5)::int] AS e
FROM generate_series(1, 40000) ORDER BY random();
ANALYZE fp_events;

-- Whether EXPLAIN (COSTS OFF) of q shows a partial aggregate under a Gather.
CREATE FUNCTION fp_partial(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  line text; partial boolean := false; gather boolean := false;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    partial := partial OR line ~ 'Partial (Hash|Group)?Aggregate';
    gather := gather OR line ~ 'Gather';
  END LOOP;
  RETURN partial AND gather;
END $$;

CREATE VIEW fp_queries (name, q) AS VALUES
 ('window_funnel per user',
  $$SELECT u, apivalue.window_funnel(15, t, e = 'A', e = 'B', e = 'C', e = 'D') AS r FROM fp_events GROUP BY u$$),
 ('window_funnel strict_order per user',
  $$SELECT u, apivalue.window_funnel(40, 'strict_order', t, e = 'A', e = 'B', e = 'C', e = 'D') AS r FROM fp_events GROUP BY u$$),
 ('window_funnel_times per user',
  $$SELECT u, apivalue.window_funnel_times('15 seconds', to_timestamp(t), e = 'A', e = 'B', e = 'C', e = 'D') AS r FROM fp_events GROUP BY u$$),
 ('window_funnel, one group of all rows',
  $$SELECT 0 AS u, apivalue.window_funnel(3, 'strict_deduplication', t, e = 'A', e = 'B', e = 'C') AS r FROM fp_events$$),
 ('retention per user',
  $$SELECT u, apivalue.retention(e = 'A', e = 'B', e = 'C', e = 'D') AS r FROM fp_events GROUP BY u$$),
 ('funnel_counts per user bucket',
  $$SELECT u % 7 AS u, apivalue.funnel_counts((u * 7 + t::int) % 6, 4) AS r FROM fp_events GROUP BY u % 7$$);

-- without workers
SET max_parallel_workers_per_gather = 0;
CREATE TABLE fp_serial (name text, u int, r text);
DO $$
DECLARE x record;
BEGIN
  FOR x IN SELECT * FROM fp_queries LOOP
    EXECUTE format('INSERT INTO fp_serial SELECT %L, u, r::text FROM (%s) s', x.name, x.q);
  END LOOP;
END $$;

-- with workers forced
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT name, fp_partial(q) AS partial_aggregate FROM fp_queries ORDER BY name;
EXPLAIN (COSTS OFF)
SELECT apivalue.window_funnel(3, t, e = 'A', e = 'B') FROM fp_events;
CREATE TABLE fp_parallel (name text, u int, r text);
DO $$
DECLARE x record;
BEGIN
  FOR x IN SELECT * FROM fp_queries LOOP
    EXECUTE format('INSERT INTO fp_parallel SELECT %L, u, r::text FROM (%s) s', x.name, x.q);
  END LOOP;
END $$;
RESET ALL;

SELECT name, count(*) AS groups,
       count(*) FILTER (WHERE s.r IS DISTINCT FROM p.r) AS mismatches
FROM fp_serial s FULL JOIN fp_parallel p USING (name, u)
GROUP BY name ORDER BY name;
-- the answers are not trivial
SELECT name, count(DISTINCT r) AS distinct_answers FROM fp_serial GROUP BY name ORDER BY name;

DROP VIEW fp_queries;
DROP TABLE fp_events, fp_serial, fp_parallel;
DROP FUNCTION fp_partial(text);
