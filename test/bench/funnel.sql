-- Benchmark of window_funnel and retention at 10M events / 200k users
-- against the scan-and-group floor and hand-written SQL.
--   psql -X -d <db> -v mevents=10 -f test/bench/funnel.sql
-- Creates tables funnel_bench_sorted (by user, ts) and funnel_bench_shuffled;
-- times every query with EXPLAIN (ANALYZE, TIMING OFF) and prints a table.
\set ON_ERROR_STOP 1
\if :{?mevents}
\else
\set mevents 10
\endif
CREATE EXTENSION IF NOT EXISTS apivalue;
SET max_parallel_workers_per_gather = 0;
SET work_mem = '512MB';
SET jit = off;

DROP TABLE IF EXISTS funnel_bench_sorted, funnel_bench_shuffled;
SELECT setseed(0.5);
-- 50 events per user on average; 35 % of them are one of the 4 funnel steps
CREATE TABLE funnel_bench_sorted AS
SELECT u AS user_id,
       timestamptz '2024-01-01' + (u % 1000) * interval '1 hour'
         + (i * 240 + (random() * 600)::int) * interval '1 second' AS ts,
       (ARRAY['signup','create_key','first_call','upgrade','GET /v1/items',
              'POST /v1/items','GET /v1/users','signup','create_key','first_call',
              'GET /v1/items','GET /v1/items','POST /v1/items','GET /v1/users',
              'DELETE /v1/items','GET /v1/health','GET /v1/health','PATCH /v1/items',
              'GET /v1/orders','GET /v1/orders'])[1 + floor(random() * 20)::int] AS event
FROM generate_series(1, :mevents * 20000) u, generate_series(1, 50) i
ORDER BY u, ts;
CREATE TABLE funnel_bench_shuffled AS SELECT * FROM funnel_bench_sorted ORDER BY random();
VACUUM ANALYZE funnel_bench_sorted;
VACUUM ANALYZE funnel_bench_shuffled;
CREATE INDEX ON funnel_bench_sorted (user_id, event, ts);
SELECT count(*) AS events, count(DISTINCT user_id) AS users FROM funnel_bench_sorted;

CREATE TEMP TABLE bench_result (query text, tbl text, ms float8);
CREATE FUNCTION pg_temp.bench(name text, tbl text, q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE line text; ms float8; best float8 := NULL;
BEGIN
  FOR i IN 1 .. 2 LOOP     -- first run warms the cache; keep the better
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF) ' || replace(q, '$T', tbl) LOOP
      IF line ~ '^Execution Time' THEN
        ms := substring(line FROM '([0-9.]+) ms')::float8;
      END IF;
    END LOOP;
    best := least(coalesce(best, ms), ms);
  END LOOP;
  INSERT INTO bench_result VALUES (name, tbl, best);
END $$;

SELECT pg_temp.bench(q.name, t.tbl, q.sql)
FROM (VALUES
  ('floor: min(ts), max(ts)', 'SELECT user_id, min(ts), max(ts) FROM $T GROUP BY user_id'),
  ('window_funnel 4 steps', $q$SELECT user_id, apivalue.window_funnel('1 hour', ts, event = 'signup', event = 'create_key', event = 'first_call', event = 'upgrade') FROM $T GROUP BY user_id$q$),
  ('window_funnel strict_order', $q$SELECT user_id, apivalue.window_funnel('1 hour', 'strict_order', ts, event = 'signup', event = 'create_key', event = 'first_call', event = 'upgrade') FROM $T GROUP BY user_id$q$),
  ('window_funnel_times 4 steps', $q$SELECT user_id, apivalue.window_funnel_times('1 hour', ts, event = 'signup', event = 'create_key', event = 'first_call', event = 'upgrade') FROM $T GROUP BY user_id$q$),
  ('retention 3 conditions', $q$SELECT user_id, apivalue.retention(event = 'signup', event = 'first_call', event = 'upgrade') FROM $T GROUP BY user_id$q$),
  ('retention as plain SQL (bool_or)', $q$SELECT user_id, bool_or(event = 'signup'), bool_or(event = 'first_call'), bool_or(event = 'upgrade') FROM $T GROUP BY user_id$q$)
) q(name, sql),
(VALUES ('funnel_bench_sorted'), ('funnel_bench_shuffled')) t(tbl);

-- Hand-written SQL funnel (default mode, greedy earliest next step after each
-- signup, index on (user_id, event, ts)); users without a signup are level 0.
SELECT pg_temp.bench('hand-written SQL funnel (LATERAL per step, index)', 'funnel_bench_sorted', $q$
SELECT us.user_id, coalesce(max(f.level), 0)
FROM (SELECT DISTINCT user_id FROM $T) us
LEFT JOIN (
  SELECT s1.user_id,
         CASE WHEN s4.t IS NOT NULL THEN 4 WHEN s3.t IS NOT NULL THEN 3 WHEN s2.t IS NOT NULL THEN 2 ELSE 1 END AS level
  FROM $T s1
  LEFT JOIN LATERAL (SELECT min(e.ts) AS t FROM $T e WHERE e.user_id = s1.user_id AND e.event = 'create_key'
                     AND e.ts >= s1.ts AND e.ts <= s1.ts + interval '1 hour') s2 ON true
  LEFT JOIN LATERAL (SELECT min(e.ts) AS t FROM $T e WHERE e.user_id = s1.user_id AND e.event = 'first_call'
                     AND e.ts >= s2.t AND e.ts <= s1.ts + interval '1 hour') s3 ON true
  LEFT JOIN LATERAL (SELECT min(e.ts) AS t FROM $T e WHERE e.user_id = s1.user_id AND e.event = 'upgrade'
                     AND e.ts >= s3.t AND e.ts <= s1.ts + interval '1 hour') s4 ON true
  WHERE s1.event = 'signup') f USING (user_id)
GROUP BY us.user_id$q$);

SELECT r.query, r.tbl, round(r.ms::numeric) AS ms,
       round((r.ms / f.ms)::numeric, 2) AS vs_floor
FROM bench_result r JOIN bench_result f ON f.query LIKE 'floor%' AND f.tbl = r.tbl
ORDER BY r.tbl, r.ms;
