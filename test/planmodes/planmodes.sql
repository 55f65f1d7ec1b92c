-- Plan-mode equality (test/layers/plan_modes.sh).
--
-- Every aggregate of the extension (found in the catalog: pg_aggregate rows
-- whose function is a member of extension apivalue) is called through a call
-- template (pm.template, keyed by the aggregate's signature) on seeded data
-- sets, in several plan modes:
--   serial       no parallel workers
--   parallel     parallel plans forced: partial aggregation on 4 workers,
--                leader not participating (combine + serialize/deserialize)
--   regress      force_parallel_mode = regress (the whole plan in a worker)
--   pw_serial    partition-wise aggregation over 4 hash partitions, no workers
--   pw_parallel  partition-wise aggregation with parallel workers forced
-- and the answers must be identical in every mode.  In the parallel modes
-- EXPLAIN ANALYZE of each query must show a Partial Aggregate that ran and
-- workers that were launched.  An aggregate without a template is a failure:
-- new aggregates cannot slip through.
--
-- Three queries per aggregate and mode (:t is pm.ev, or pm.evp partitioned):
--   per_group   SELECT ds, g, agg FROM :t WHERE keep GROUP BY ds, g
--   per_set     SELECT ds, agg FROM :t WHERE keep GROUP BY ds
--   empty       SELECT agg FILTER (WHERE keep AND ds = <set>) FROM :t   for the
--               empty and the all-filtered data sets: every row is read and
--               none reaches the aggregate, so each worker's partial state is
--               empty and the combine merges empty states
-- A template is one aggregate call (FILTER is appended to it).

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
DROP SCHEMA IF EXISTS pm CASCADE;
CREATE SCHEMA pm;
RESET client_min_messages;
SET search_path = pm, public;

-- ---------------------------------------------------------------------------
-- Data sets
-- ---------------------------------------------------------------------------
CREATE TABLE pm.dataset (ds int PRIMARY KEY, name text NOT NULL, zero_rows boolean NOT NULL DEFAULT false);

CREATE TABLE pm.ev (
  ds int NOT NULL,
  id bigint NOT NULL,
  g int,                         -- the group (user)
  ts timestamptz,
  event text,
  keep boolean NOT NULL DEFAULT true,
  status int,
  latency float8,
  seq bigint,
  sent_at timestamptz,
  received_at timestamptz,
  fp text,                       -- fingerprint for near-duplicates
  lvl int,                       -- funnel level for funnel_counts
  arr int[],
  arr8 bigint[],
  css apivalue.clock_skew_summary,   -- one-row summaries, for rollup()
  sqs apivalue.sequence_summary,
  dts apivalue.dead_time_summary,
  lts apivalue.latency_summary
);

-- gen: users x per_user events (per_user varies by +-50% per user) of the
-- alphabet, over span starting at t0; null_frac of each column NULL.
CREATE FUNCTION pm.gen(p_ds int, p_name text, users int, per_user int, alphabet text[],
                       t0 timestamptz, span interval, null_frac float8, seed float8)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO pm.dataset VALUES (p_ds, p_name);
  PERFORM setseed(seed);
  INSERT INTO pm.ev (ds, id, g, ts, event, status, latency, seq, sent_at, received_at, fp, lvl, arr, arr8)
  SELECT p_ds, 0, u,
         CASE WHEN random() < null_frac THEN NULL
              ELSE date_trunc('second', t0 + random() * span) END,
         CASE WHEN random() < null_frac THEN NULL
              ELSE alphabet[1 + floor(random() * array_length(alphabet, 1))::int] END,
         (ARRAY[200, 201, 400, 404, 500, 503])[1 + floor(random() * 6)::int],
         CASE WHEN random() < null_frac THEN NULL ELSE round((random() * 900)::numeric, 1)::float8 END,
         CASE WHEN random() < null_frac THEN NULL ELSE (i + floor(random() * 3)::int - 1)::bigint END,
         NULL, NULL,
         CASE WHEN random() < null_frac THEN NULL ELSE 'fp' || floor(random() * 6)::int END,
         CASE WHEN random() < null_frac THEN NULL ELSE floor(random() * 5)::int END,
         CASE WHEN random() < null_frac THEN NULL
              ELSE (SELECT coalesce(array_agg(floor(random() * 10)::int), '{}')
                    FROM generate_series(1, floor(random() * 5)::int + (u * 0))) END,
         NULL
  FROM generate_series(1, users) u,
       LATERAL generate_series(1, greatest(1, (per_user * (0.5 + random()))::int)) i;
END $$;

SELECT pm.gen(1,  'empty',                      0,    1, '{a}', '2024-01-01', '1 day', 0, 0.01);
SELECT pm.gen(2,  'all filtered',              40,   10, '{a,b,c,d}', '2024-01-01', '2 days', 0, 0.02);
SELECT pm.gen(3,  'one row',                    1,    1, '{a}', '2024-03-01 12:00', '0', 0, 0.03);
SELECT pm.gen(4,  'one user, many events',      1, 1500, '{a,b,c,d,e}', '2024-01-01', '3 days', 0, 0.04);
SELECT pm.gen(5,  'many users, one event',    400,    1, '{a,b,c}', '2024-01-01', '10 days', 0, 0.05);
SELECT pm.gen(6,  'equal timestamps',          30,   20, '{a,b,c,d}', '2024-02-02 02:02', '0', 0, 0.06);
SELECT pm.gen(7,  'null-heavy',                60,   15, '{a,b,c,d}', '2024-01-01', '5 days', 0.5, 0.07);
SELECT pm.gen(8,  'no condition matches',      50,   10, '{x,y,z}', '2024-01-01', '5 days', 0, 0.08);
SELECT pm.gen(9,  'random small',             100,   10, '{a,b,c,d,e}', '2024-01-01', '7 days', 0.05, 0.09);
SELECT pm.gen(10, 'random medium',            250,   20, '{a,b,c,d,e}', '2024-01-01', '30 days', 0.02, 0.10);
SELECT pm.gen(11, 'years apart',               40,   15, '{a,b,c,d}', '2019-01-01', '1500 days', 0, 0.11);
SELECT pm.gen(12, 'identical rows',            30,    1, '{a,b}', '2024-01-01', '1 hour', 0, 0.12);
SELECT pm.gen(13, 'dense users',                6,  300, '{a,b,c,d,e}', '2024-01-01', '2 days', 0, 0.13);
SELECT pm.gen(14, 'within the hour',           80,   12, '{a,b,c,d}', '2024-01-01', '1 hour', 0, 0.14);
SELECT pm.gen(15, 'sequence gaps',             40,   30, '{a,b,c}', '2024-01-01', '1 day', 0, 0.15);
SELECT pm.gen(16, 'clock skew',                40,   20, '{a,b,c}', '2024-01-01', '1 day', 0, 0.16);
SELECT pm.gen(17, 'dst boundary',              50,   10, '{a,b,c,d}', '2024-03-30 22:00', '30 hours', 0, 0.17);
SELECT pm.gen(18, 'two events alphabet',      120,    8, '{a,b}', '2024-01-01', '2 days', 0, 0.18);
SELECT pm.gen(19, 'repeats and nulls',         50,   25, '{a,a,a,b,c}', '2024-01-01', '12 hours', 0.2, 0.19);
SELECT pm.gen(20, 'wide arrays, big levels',   60,   10, '{a,b,c,d,e}', '2024-01-01', '3 days', 0, 0.20);
SELECT pm.gen(21, 'second resolution',         40,   30, '{a,b,c,d}', '2024-01-01', '2 minutes', 0, 0.21);
SELECT pm.gen(22, 'year-end weeks',            60,   10, '{a,b,c,d}', '2023-12-20', '25 days', 0, 0.22);
UPDATE pm.dataset SET zero_rows = true WHERE ds IN (1, 2);

-- Shapes the generator does not make by itself.
UPDATE pm.ev SET keep = false WHERE ds = 2;
INSERT INTO pm.ev (ds, id, g, ts, event, status, latency, seq, fp, lvl, arr)
SELECT ds, 0, g, ts, event, status, latency, seq, fp, lvl, arr FROM pm.ev WHERE ds = 12;
INSERT INTO pm.ev (ds, id, g, ts, event, status, latency, seq, fp, lvl, arr)
SELECT ds, 0, g, ts, event, status, latency, seq, fp, lvl, arr FROM pm.ev WHERE ds = 12;
UPDATE pm.ev SET seq = seq * 3 - (g % 4) * 1000 WHERE ds = 15;
UPDATE pm.ev SET sent_at = ts + ((random() - 0.3) * 600) * interval '1 second',
                 received_at = ts + ((random() - 0.1) * 900) * interval '1 second' WHERE ds = 16;
UPDATE pm.ev SET sent_at = ts + interval '2 seconds', received_at = ts + interval '3 seconds'
WHERE ds <> 16 AND ts IS NOT NULL AND seq % 3 <> 0;
UPDATE pm.ev SET arr = array_fill(7, ARRAY[1 + g % 40]), lvl = g % 5 WHERE ds = 20;
UPDATE pm.ev SET arr8 = (SELECT array_agg(x::bigint * 1000000000000) FROM unnest(arr) x) WHERE arr IS NOT NULL;

-- Row ids in a random order, and the table written in that order, so each
-- group's rows spread over many pages (and so over the parallel workers).
SELECT setseed(0.5);
CREATE TABLE pm.ev_shuffled AS SELECT * FROM pm.ev ORDER BY random();
TRUNCATE pm.ev;
INSERT INTO pm.ev SELECT * FROM pm.ev_shuffled;
DROP TABLE pm.ev_shuffled;
UPDATE pm.ev e SET id = r.n FROM (SELECT ctid AS c, row_number() OVER () AS n FROM pm.ev) r WHERE e.ctid = r.c;

-- One-row summaries for the rollup() aggregates.
UPDATE pm.ev e SET css = s.css, sqs = s.sqs, dts = s.dts, lts = s.lts
FROM (SELECT id, apivalue.clock_skew_summary(ts, sent_at, received_at) AS css,
             apivalue.sequence_summary(seq) AS sqs,
             apivalue.dead_time_summary(ts, interval '1 hour') AS dts,
             apivalue.latency_summary(latency, status) AS lts
      FROM pm.ev GROUP BY id) s
WHERE s.id = e.id;

-- The same rows, hash-partitioned by group into 4 partitions.
CREATE TABLE pm.evp (LIKE pm.ev) PARTITION BY HASH (g);
CREATE TABLE pm.evp_0 PARTITION OF pm.evp FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE pm.evp_1 PARTITION OF pm.evp FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE pm.evp_2 PARTITION OF pm.evp FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE pm.evp_3 PARTITION OF pm.evp FOR VALUES WITH (MODULUS 4, REMAINDER 3);
INSERT INTO pm.evp SELECT * FROM pm.ev;
VACUUM ANALYZE pm.ev;
VACUUM ANALYZE pm.evp;

-- ---------------------------------------------------------------------------
-- Call templates, keyed by the aggregate's signature (regprocedure text with
-- search_path = pm, public).  Columns: those of pm.ev; tsl / tsi below stand
-- for the timestamp and bigint forms of ts.
-- ---------------------------------------------------------------------------
-- expect_error: the SQLSTATE the call must fail with, in every mode (the
-- overloads without conditions exist to give a clear error).
-- rows: an extra condition on the rows a template reads (chart aggregates
-- draw one mark per row and are meant for small inputs).
CREATE TABLE pm.template (sig text PRIMARY KEY, expr text NOT NULL, expect_error text,
                          rows text NOT NULL DEFAULT 'true');
INSERT INTO pm.template (sig, expr) VALUES
  -- funnel
  ('apivalue.window_funnel(interval,timestamp with time zone,"any")',
   $$apivalue.window_funnel('1 hour', ts, event = 'a', event = 'b', event = 'c', event = 'd')$$),
  ('apivalue.window_funnel(interval,timestamp with time zone)',
   $$apivalue.window_funnel('1 hour', ts)$$),
  ('apivalue.window_funnel(interval,text,timestamp with time zone,"any")',
   $$apivalue.window_funnel('2 hours', 'strict_order', ts, event = 'a', event = 'b', event = 'c')$$),
  ('apivalue.window_funnel(interval,text,timestamp with time zone)',
   $$apivalue.window_funnel('1 hour', 'strict_increase', ts)$$),
  ('apivalue.window_funnel(interval,timestamp without time zone,"any")',
   $$apivalue.window_funnel('1 day', tsl, event = 'a', event = 'b', event = 'a')$$),
  ('apivalue.window_funnel(interval,timestamp without time zone)',
   $$apivalue.window_funnel('1 day', tsl)$$),
  ('apivalue.window_funnel(interval,text,timestamp without time zone,"any")',
   $$apivalue.window_funnel('3 hours', 'strict_deduplication', tsl, event = 'a', event = 'b', event = 'c', event = 'd')$$),
  ('apivalue.window_funnel(interval,text,timestamp without time zone)',
   $$apivalue.window_funnel('3 hours', '', tsl)$$),
  ('apivalue.window_funnel(bigint,bigint,"any")',
   $$apivalue.window_funnel(3600, tsi, event = 'a', event = 'c', event = 'e')$$),
  ('apivalue.window_funnel(bigint,bigint)',
   $$apivalue.window_funnel(0, tsi)$$),
  ('apivalue.window_funnel(bigint,text,bigint,"any")',
   $$apivalue.window_funnel(7200, 'strict_order, allow_reentry', tsi, event = 'a', event = 'b', event = 'c')$$),
  ('apivalue.window_funnel(bigint,text,bigint)',
   $$apivalue.window_funnel(60, 'strict_increase', tsi)$$),
  ('apivalue.window_funnel_times(interval,timestamp with time zone,"any")',
   $$apivalue.window_funnel_times('1 hour', ts, event = 'a', event = 'b', event = 'c', event = 'd')$$),
  ('apivalue.window_funnel_times(interval,timestamp with time zone)',
   $$apivalue.window_funnel_times('1 hour', ts)$$),
  ('apivalue.window_funnel_times(interval,text,timestamp with time zone,"any")',
   $$apivalue.window_funnel_times('2 hours', 'strict_increase', ts, event = 'a', event = 'b', event = 'c')$$),
  ('apivalue.window_funnel_times(interval,text,timestamp with time zone)',
   $$apivalue.window_funnel_times('2 hours', 'strict_order', ts)$$),
  ('apivalue.window_funnel_times(interval,timestamp without time zone,"any")',
   $$apivalue.window_funnel_times('1 day', tsl, event = 'b', event = 'a')$$),
  ('apivalue.window_funnel_times(interval,timestamp without time zone)',
   $$apivalue.window_funnel_times('1 day', tsl)$$),
  ('apivalue.window_funnel_times(interval,text,timestamp without time zone,"any")',
   $$apivalue.window_funnel_times('6 hours', 'strict_deduplication', tsl, event = 'a', event = 'b', event = 'c')$$),
  ('apivalue.window_funnel_times(interval,text,timestamp without time zone)',
   $$apivalue.window_funnel_times('6 hours', '', tsl)$$),
  ('apivalue.window_funnel_times(bigint,bigint,"any")',
   $$apivalue.window_funnel_times(3600, tsi, event = 'a', event = 'b')$$),
  ('apivalue.window_funnel_times(bigint,bigint)',
   $$apivalue.window_funnel_times(3600, tsi)$$),
  ('apivalue.window_funnel_times(bigint,text,bigint,"any")',
   $$apivalue.window_funnel_times(86400, 'strict_order', tsi, event = 'a', event = 'b', event = 'c', event = 'd')$$),
  ('apivalue.window_funnel_times(bigint,text,bigint)',
   $$apivalue.window_funnel_times(86400, 'strict_increase', tsi)$$),
  ('apivalue.retention("any")',
   $$apivalue.retention(event = 'a', event = 'b', event = 'c', status >= 500)$$),
  ('apivalue.funnel_counts(integer,integer)',
   $$apivalue.funnel_counts(lvl, 4)$$),
  -- sequence
  ('apivalue.sequence_match(text,timestamp with time zone,"any")',
   $$apivalue.sequence_match('(?1).*(?2)(?t<=3600)', ts, event = 'a', event = 'b')$$),
  ('apivalue.sequence_match(text,timestamp without time zone,"any")',
   $$apivalue.sequence_match('(?1)(?2).*(?3)', tsl, event = 'a', event = 'b', event = 'c')$$),
  ('apivalue.sequence_match(text,bigint,"any")',
   $$apivalue.sequence_match('(?1).*(?1)', tsi, event = 'c')$$),
  ('apivalue.sequence_count(text,timestamp with time zone,"any")',
   $$apivalue.sequence_count('(?1).*(?2)', ts, event = 'a', event = 'b')$$),
  ('apivalue.sequence_count(text,timestamp without time zone,"any")',
   $$apivalue.sequence_count('(?1)(?t>60)(?2)', tsl, event = 'a', event = 'c')$$),
  ('apivalue.sequence_count(text,bigint,"any")',
   $$apivalue.sequence_count('(?1)', tsi, event = 'd')$$),
  ('apivalue.sequence_next_node(text,text,timestamp with time zone,text,boolean,"any")',
   $$apivalue.sequence_next_node('forward', 'first_match', ts, event, true, event = 'a', event = 'b')$$),
  ('apivalue.sequence_next_node(text,text,timestamp without time zone,text,boolean,"any")',
   $$apivalue.sequence_next_node('backward', 'tail', tsl, event, event <> 'x', event = 'c')$$),
  ('apivalue.sequence_next_node(text,text,bigint,text,boolean,"any")',
   $$apivalue.sequence_next_node('forward', 'head', tsi, event, true, event = 'a')$$),
  -- journey
  ('apivalue.journey_path(timestamp with time zone,text)', $$apivalue.journey_path(ts, event)$$),
  ('apivalue.journey_path(timestamp with time zone,text,integer)', $$apivalue.journey_path(ts, event, 4)$$),
  ('apivalue.journey_path(timestamp without time zone,text)', $$apivalue.journey_path(tsl, event)$$),
  ('apivalue.journey_path(timestamp without time zone,text,integer)', $$apivalue.journey_path(tsl, event, 2)$$),
  ('apivalue.journey_path_times(timestamp with time zone,text)', $$apivalue.journey_path_times(ts, event)$$),
  ('apivalue.journey_path_times(timestamp with time zone,text,integer)', $$apivalue.journey_path_times(ts, event, 3)$$),
  ('apivalue.journey_path_times(timestamp without time zone,text)', $$apivalue.journey_path_times(tsl, event)$$),
  ('apivalue.journey_path_times(timestamp without time zone,text,integer)', $$apivalue.journey_path_times(tsl, event, 5)$$),
  ('apivalue.journey_path_from(timestamp with time zone,text,text)', $$apivalue.journey_path_from(ts, event, 'b')$$),
  ('apivalue.journey_path_from(timestamp with time zone,text,text,integer)', $$apivalue.journey_path_from(ts, event, 'a', 3)$$),
  ('apivalue.journey_path_from(timestamp without time zone,text,text)', $$apivalue.journey_path_from(tsl, event, 'c')$$),
  ('apivalue.journey_path_from(timestamp without time zone,text,text,integer)', $$apivalue.journey_path_from(tsl, event, 'a', 6)$$),
  ('apivalue.journey_path_from_times(timestamp with time zone,text,text)', $$apivalue.journey_path_from_times(ts, event, 'a')$$),
  ('apivalue.journey_path_from_times(timestamp with time zone,text,text,integer)', $$apivalue.journey_path_from_times(ts, event, 'b', 2)$$),
  ('apivalue.journey_path_from_times(timestamp without time zone,text,text)', $$apivalue.journey_path_from_times(tsl, event, 'd')$$),
  ('apivalue.journey_path_from_times(timestamp without time zone,text,text,integer)', $$apivalue.journey_path_from_times(tsl, event, 'a', 4)$$),
  ('apivalue.journey_path_to(timestamp with time zone,text,text)', $$apivalue.journey_path_to(ts, event, 'c')$$),
  ('apivalue.journey_path_to(timestamp with time zone,text,text,integer)', $$apivalue.journey_path_to(ts, event, 'b', 3)$$),
  ('apivalue.journey_path_to(timestamp without time zone,text,text)', $$apivalue.journey_path_to(tsl, event, 'a')$$),
  ('apivalue.journey_path_to(timestamp without time zone,text,text,integer)', $$apivalue.journey_path_to(tsl, event, 'd', 2)$$),
  ('apivalue.journey_path_to_times(timestamp with time zone,text,text)', $$apivalue.journey_path_to_times(ts, event, 'b')$$),
  ('apivalue.journey_path_to_times(timestamp with time zone,text,text,integer)', $$apivalue.journey_path_to_times(ts, event, 'c', 4)$$),
  ('apivalue.journey_path_to_times(timestamp without time zone,text,text)', $$apivalue.journey_path_to_times(tsl, event, 'e')$$),
  ('apivalue.journey_path_to_times(timestamp without time zone,text,text,integer)', $$apivalue.journey_path_to_times(tsl, event, 'a', 3)$$),
  ('apivalue._journey_flow_edges(text[],anyarray,integer,integer)',
   $$apivalue._journey_flow_edges((ARRAY[coalesce(event, 'n'), coalesce(fp, 'f'), 'end'])[1:1 + (id % 3)::int],
                                  (ARRAY[coalesce(ts, '2024-01-01'), coalesce(ts, '2024-01-01') + (id % 7) * interval '1 minute',
                                         coalesce(ts, '2024-01-01') + interval '1 hour'])[1:1 + (id % 3)::int], 2, 2)$$),
  -- time to first value
  ('apivalue.time_to_first_value(timestamp with time zone,boolean,boolean)',
   $$apivalue.time_to_first_value(ts, event = 'a', event = 'c' AND status < 400)$$),
  ('apivalue.time_to_first_value(timestamp with time zone,boolean,boolean,interval)',
   $$apivalue.time_to_first_value(ts, event = 'a', event = 'b', interval '6 hours')$$),
  ('apivalue.value_at_first(timestamp with time zone,boolean,text)',
   $$apivalue.value_at_first(ts, event = 'b', fp)$$),
  -- retention
  ('apivalue.sum_arrays(integer[])', $$apivalue.sum_arrays(arr)$$),
  ('apivalue.sum_arrays(bigint[])', $$apivalue.sum_arrays(arr8)$$),
  ('apivalue.retention_activity(timestamp with time zone,boolean,boolean,integer,text,text)',
   $$apivalue.retention_activity(ts, event = 'a', event IN ('b', 'c'), 6, 'day', 'Europe/Paris')$$),
  ('apivalue.retention_activity(timestamp with time zone,boolean,boolean,integer,text,text,text)',
   $$apivalue.retention_activity(ts, true, status < 500, 8, 'week', 'America/New_York', 'en_US')$$),
  ('apivalue._retention_user(timestamp with time zone,boolean,boolean,integer,text,text,text)',
   $$apivalue._retention_user(ts, event = 'a', true, 4, 'week', 'UTC', 'de_DE')$$),
  -- quality
  ('apivalue.clock_skew_summary(timestamp with time zone,timestamp with time zone,timestamp with time zone)',
   $$apivalue.clock_skew_summary(ts, sent_at, received_at)$$),
  ('apivalue.rollup(apivalue.clock_skew_summary)', $$apivalue.rollup(css)$$),
  ('apivalue.near_duplicate_count(text,timestamp with time zone,interval)',
   $$apivalue.near_duplicate_count(fp, ts, '5 minutes')$$),
  ('apivalue.sequence_summary(bigint)', $$apivalue.sequence_summary(seq)$$),
  ('apivalue.sequence_gap_count(bigint)', $$apivalue.sequence_gap_count(seq)$$),
  ('apivalue.missing_sequence_ranges(bigint)', $$apivalue.missing_sequence_ranges(seq)$$),
  ('apivalue.rollup(apivalue.sequence_summary)', $$apivalue.rollup(sqs)$$),
  ('apivalue.dead_time_summary(timestamp with time zone,interval)', $$apivalue.dead_time_summary(ts, '30 minutes')$$),
  ('apivalue.dead_time(timestamp with time zone,interval)', $$apivalue.dead_time(ts, '2 hours')$$),
  ('apivalue.rollup(apivalue.dead_time_summary)', $$apivalue.rollup(dts)$$),
  -- drivers
  ('apivalue.behavior_counts(timestamp with time zone,text,interval)',
   $$apivalue.behavior_counts(ts, event, '1 day')$$),
  ('apivalue.behavior_counts(timestamp without time zone,text,interval)',
   $$apivalue.behavior_counts(tsl, event, '12 hours')$$),
  ('apivalue.driver_features(timestamp with time zone,text,boolean,boolean,double precision,interval,interval,integer,integer,double precision,boolean,timestamp with time zone)',
   $$apivalue.driver_features(ts, event, event = 'd', status >= 500, latency, '1 day', '7 days', 2, 1, 500, false, '2030-01-01')$$),
  ('apivalue.driver_features(timestamp without time zone,text,boolean,boolean,double precision,interval,interval,integer,integer,double precision,boolean,timestamp without time zone)',
   $$apivalue.driver_features(tsl, event, event = 'e', status >= 500, latency, '2 days', NULL, 1, 2, 300, true, '2030-01-01')$$),
  ('apivalue.behavior_tally(text[],boolean,boolean,boolean)',
   $$apivalue.behavior_tally(ARRAY[event, fp, event], status >= 400, status >= 500, latency > 300)$$),
  -- product (funnel_report's per-user chains; configuration as funnel_report
  -- builds it: version, steps, exclusions, window in microseconds, mode bits,
  -- any order, total counting, attribution, optional-step mask)
  ('apivalue._funnel_report_chains(bigint[],timestamp with time zone,text,"any")',
   $$apivalue._funnel_report_chains(ARRAY[1, 3, 0, 7200000000, 0, 0, 0, -2, 0]::bigint[], ts, fp, event = 'a', event = 'b', event = 'c')$$),
  -- drift and usage
  ('apivalue.jsonb_shape(jsonb)', $$apivalue.jsonb_shape(jsonb_build_object('e', event, 's', status, 'n', jsonb_build_object('l', latency)))$$),
  ('apivalue.jsonb_shape(jsonb,integer)', $$apivalue.jsonb_shape(jsonb_build_object('e', event, 'n', jsonb_build_object('l', latency, 'f', fp)), 1)$$),
  ('apivalue.jsonb_shape_merge(jsonb)', $$apivalue.jsonb_shape_merge(CASE WHEN event IS NULL THEN '{"_rows": 1}'::jsonb ELSE jsonb_build_object('_rows', 1, event, jsonb_build_object('rows', 1, 'string', 1)) END)$$),
  ('apivalue.latency_summary(double precision,integer)', $$apivalue.latency_summary(latency, status)$$),
  ('apivalue.latency_summary(interval,integer)', $$apivalue.latency_summary(latency * interval '1 millisecond', status)$$),
  ('apivalue.rollup(apivalue.latency_summary)', $$apivalue.rollup(lts)$$),
  ('apivalue.distinct_percentiles(anyelement,double precision,double precision[])',
   $$apivalue.distinct_percentiles(fp, latency, '{0,0.5,0.95,1}')$$),
  ('apivalue.km_summary(integer,boolean,integer)', $$apivalue.km_summary(lvl, event = 'a', 4)$$),
  ('apivalue._ttfv_point(timestamp with time zone,boolean,boolean)', $$apivalue._ttfv_point(ts, event = 'a', event = 'c')$$),
  -- charts
  ('apivalue.heatmap_svg(text,integer,double precision)', $$apivalue.heatmap_svg(event, lvl, latency)$$),
  ('apivalue.heatmap_svg(text,integer,double precision,jsonb)',
   $$apivalue.heatmap_svg(fp, lvl, latency, '{"title": "t"}')$$),
  ('apivalue.heatmap_svg(text,integer,double precision,text,jsonb)',
   $$apivalue.heatmap_svg(event, status, latency, fp, '{}')$$),
  ('apivalue.funnel_svg(integer,text,bigint)', $$apivalue.funnel_svg(lvl, event, lvl * 10::bigint)$$),
  ('apivalue.funnel_svg(integer,text,bigint,jsonb)', $$apivalue.funnel_svg(lvl, fp, status::bigint, '{}')$$),
  ('apivalue.sankey_svg(integer,text,text,bigint)', $$apivalue.sankey_svg(lvl + 1, event, fp, abs(seq))$$),
  ('apivalue.sankey_svg(integer,text,text,bigint,jsonb)', $$apivalue.sankey_svg(lvl + 1, fp, event, status::bigint, '{}')$$),
  ('apivalue.line_svg(text,double precision,double precision)', $$apivalue.line_svg(event, seq, latency)$$),
  ('apivalue.line_svg(text,double precision,double precision,jsonb)', $$apivalue.line_svg(fp, seq, latency, '{}')$$),
  ('apivalue.line_svg(text,double precision,double precision,double precision,double precision)',
   $$apivalue.line_svg(event, seq, latency, latency - 10, latency + 10)$$),
  ('apivalue.line_svg(text,double precision,double precision,double precision,double precision,jsonb)',
   $$apivalue.line_svg(event, lvl, latency, latency / 2, latency * 2, '{}')$$),
  ('apivalue.status_strip_svg(text,timestamp with time zone,text)',
   $$apivalue.status_strip_svg(fp, ts, CASE WHEN status < 400 THEN 'pass' ELSE 'fail' END)$$),
  ('apivalue.status_strip_svg(text,timestamp with time zone,text,jsonb)',
   $$apivalue.status_strip_svg(event, ts, CASE WHEN status < 500 THEN 'pass' ELSE 'error' END, '{}')$$);

UPDATE pm.template SET expect_error = '22023'          -- "needs at least one condition"
WHERE sig ~ '^apivalue\.window_funnel(_times)?\([a-z]+( with(out)? time zone)?,(text,)?[a-z ]+\)$'
  AND sig NOT LIKE '%"any"%';

UPDATE pm.template SET rows = 'g % 8 = 1 AND (ds <> 4 OR id % 5 = 0)' WHERE sig LIKE 'apivalue.%\_svg(%';

-- The column stand-ins, expanded before a template runs.
CREATE FUNCTION pm.expand(expr text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT regexp_replace(regexp_replace(expr,
           '\mtsl\M', $r$(ts AT TIME ZONE 'UTC')$r$, 'g'),
           '\mtsi\M', $r$(extract(epoch FROM ts)::bigint)$r$, 'g')
$$;

-- The extension's aggregates, from the catalog.
CREATE VIEW pm.aggregate AS
SELECT p.oid::regprocedure::text AS sig, a.aggcombinefn <> 0 AS has_combine,
       a.aggtranstype::regtype::text AS state_type
FROM pg_aggregate a
JOIN pg_proc p ON p.oid = a.aggfnoid
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'apivalue';

-- ---------------------------------------------------------------------------
-- Running the modes
-- ---------------------------------------------------------------------------
CREATE TABLE pm.result (mode text, sig text, query text, ds int, val text,
                        PRIMARY KEY (mode, sig, query, ds));
CREATE TABLE pm.plan_check (mode text, sig text, query text, partial_ran boolean,
                            workers_launched int, partitionwise boolean, err text,
                            PRIMARY KEY (mode, sig, query));

CREATE FUNCTION pm.set_mode(mode text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  forced constant text[] := ARRAY['parallel_setup_cost=0', 'parallel_tuple_cost=0',
    'min_parallel_table_scan_size=0', 'min_parallel_index_scan_size=0',
    'max_parallel_workers_per_gather=4', 'parallel_leader_participation=off'];
  gucs text[];
  kv text;
  tbl text := 'pm.ev';
BEGIN
  gucs := ARRAY['max_parallel_workers_per_gather=0', 'force_parallel_mode=off',
                'enable_partitionwise_aggregate=off', 'enable_partitionwise_join=off'];
  CASE mode
    WHEN 'serial' THEN NULL;
    WHEN 'parallel' THEN gucs := gucs || forced;
    WHEN 'regress' THEN gucs := gucs || ARRAY['force_parallel_mode=regress'];
    WHEN 'pw_serial' THEN
      gucs := gucs || ARRAY['enable_partitionwise_aggregate=on'];
      tbl := 'pm.evp';
    WHEN 'pw_parallel' THEN
      gucs := gucs || ARRAY['enable_partitionwise_aggregate=on'] || forced;
      tbl := 'pm.evp';
    ELSE RAISE EXCEPTION 'unknown plan mode "%"', mode;
  END CASE;
  FOREACH kv IN ARRAY gucs LOOP
    PERFORM set_config(split_part(kv, '=', 1), split_part(kv, '=', 2), true);
  END LOOP;
  RETURN tbl;
END $$;

-- run_mode: every templated aggregate in one plan mode; results into
-- pm.result, plan facts into pm.plan_check.  Errors are results too (the
-- SQLSTATE and message), so a mode that fails where another succeeds shows
-- as a mismatch.
CREATE FUNCTION pm.run_mode(mode text, only_sig text DEFAULT NULL) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  tbl text := pm.set_mode(mode);
  t record;
  z record;
  q text;
  kind text;
  e text;
  wrapped text;
  plan jsonb;
  res jsonb;
  n int := 0;
BEGIN
  DELETE FROM pm.result r WHERE r.mode = $1 AND (only_sig IS NULL OR r.sig = only_sig);
  DELETE FROM pm.plan_check c WHERE c.mode = $1 AND (only_sig IS NULL OR c.sig = only_sig);
  FOR t IN SELECT a.sig, pm.expand(tp.expr) AS expr, '(' || tp.rows || ')' AS rows
           FROM pm.aggregate a JOIN pm.template tp USING (sig)
           WHERE only_sig IS NULL OR a.sig = only_sig ORDER BY a.sig LOOP
    FOR kind, q, wrapped IN
      SELECT 'per_group',
             format('SELECT ds, g, (%s)::text AS v FROM %s WHERE keep AND %s GROUP BY ds, g', t.expr, tbl, t.rows),
             format($w$SELECT jsonb_object_agg(ds::text, s) FROM (
                         SELECT ds, string_agg(coalesce(g::text, '-') || '=' || coalesce(v, '<null>'), ' | '
                                               ORDER BY g NULLS FIRST) AS s
                         FROM (%s) q GROUP BY ds) x$w$,
                    format('SELECT ds, g, (%s)::text AS v FROM %s WHERE keep AND %s GROUP BY ds, g', t.expr, tbl, t.rows))
      UNION ALL
      SELECT 'per_set',
             format('SELECT ds, (%s)::text AS v FROM %s WHERE keep AND %s GROUP BY ds', t.expr, tbl, t.rows),
             format($w$SELECT jsonb_object_agg(ds::text, coalesce(v, '<null>')) FROM (%s) q$w$,
                    format('SELECT ds, (%s)::text AS v FROM %s WHERE keep AND %s GROUP BY ds', t.expr, tbl, t.rows))
      UNION ALL
      SELECT 'empty_' || d.ds,
             format('SELECT (%s FILTER (WHERE keep AND ds = %s))::text AS v FROM %s WHERE %s', t.expr, d.ds, tbl, t.rows),
             format($w$SELECT jsonb_build_object('%s', coalesce(v, '<null>')) FROM (%s) q$w$, d.ds,
                    format('SELECT (%s FILTER (WHERE keep AND ds = %s))::text AS v FROM %s WHERE %s', t.expr, d.ds, tbl, t.rows))
      FROM pm.dataset d WHERE d.zero_rows
    LOOP
      e := NULL;
      BEGIN
        EXECUTE wrapped INTO res;
      EXCEPTION WHEN OTHERS THEN
        e := SQLSTATE || ': ' || SQLERRM;
        res := NULL;
      END;
      -- one result per data set (data sets without rows in this query have
      -- none: the same in every mode, and counted as compared)
      INSERT INTO pm.result
      SELECT mode, t.sig, kind, d.ds,
             CASE WHEN e IS NOT NULL THEN 'ERROR ' || e ELSE coalesce(res ->> d.ds::text, '<no rows>') END
      FROM pm.dataset d
      WHERE kind IN ('per_group', 'per_set') OR kind = 'empty_' || d.ds;
      IF mode <> 'serial' AND mode <> 'regress' THEN
        BEGIN
          EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF, FORMAT JSON) ' || q INTO plan;
          INSERT INTO pm.plan_check VALUES (mode, t.sig, kind,
            jsonb_path_exists(plan, '$.** ? (@."Partial Mode" == "Partial" && @."Actual Loops" > 0)'),
            coalesce((SELECT sum(w::int) FROM jsonb_path_query(plan, '$.**."Workers Launched"') w), 0),
            jsonb_path_exists(plan, '$.** ? (@."Node Type" == "Append" || @."Node Type" == "Parallel Append")')
              AND (SELECT count(*) FROM jsonb_path_query(plan, '$.** ? (@."Node Type" == "Aggregate")')) > 2,
            NULL);
        EXCEPTION WHEN OTHERS THEN
          INSERT INTO pm.plan_check VALUES (mode, t.sig, kind, false, 0, false, SQLSTATE || ': ' || SQLERRM);
        END;
      END IF;
      n := n + 1;
    END LOOP;
  END LOOP;
  RETURN n;
END $$;
