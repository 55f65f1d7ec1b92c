SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

-- latency_summary: exact status counts, exact min/max, log-bucket histogram
-- with approximate percentiles within 1 % of percentile_cont.

-- Hand-made edge cases.
-- empty group: no row aggregated -> NULL summary
SELECT apivalue.latency_summary(x, 200) IS NULL AS empty_is_null
  FROM (SELECT 1.0::float8 AS x WHERE false) s;
-- only NULL latency and NULL status: a call, no latency
SELECT s::text, apivalue.calls(s), apivalue.latency_count(s), apivalue.server_error_rate(s),
       apivalue.approx_percentile(s, 0.5), apivalue.latency_min(s)
  FROM (SELECT apivalue.latency_summary(NULL::float8, NULL::int) AS s) q;
-- status classes: 1xx..5xx, other (outside 100-599, e.g. 0, 99, 600), unknown
SELECT apivalue.status_count(s, c) AS n, c
  FROM (SELECT apivalue.latency_summary(l, st) AS s
          FROM (VALUES (1.0, 100), (2.0, 199), (3.0, 200), (4.0, 204), (5.0, 301), (6.0, 404),
                       (7.0, 429), (8.0, 500), (9.0, 599), (10.0, 600), (11.0, 0), (12.0, 99),
                       (13.0, -1), (NULL, NULL), (14.0, NULL)) v(l, st)) q,
       unnest(ARRAY['1xx', '2xx', '3xx', '4xx', '5xx', 'other', 'unknown']) c;
-- rates over calls with a known status: 5xx 2 of 13, 4xx 2 of 13
SELECT round(apivalue.server_error_rate(s)::numeric, 6) AS r5, round(apivalue.client_error_rate(s)::numeric, 6) AS r4,
       apivalue.calls(s), apivalue.latency_count(s), apivalue.latency_min(s), apivalue.latency_max(s)
  FROM (SELECT apivalue.latency_summary(l, st) AS s
          FROM (VALUES (1.0, 100), (2.0, 199), (3.0, 200), (4.0, 204), (5.0, 301), (6.0, 404),
                       (7.0, 429), (8.0, 500), (9.0, 599), (10.0, 600), (11.0, 0), (12.0, 99),
                       (13.0, -1), (NULL, NULL), (14.0, NULL)) v(l, st)) q;
-- one latency: every percentile is that latency exactly (clamped to min = max)
SELECT apivalue.approx_percentiles(apivalue.latency_summary(123.456, 200), '{0,0.5,0.99,1}');
-- zero and sub-nanosecond latencies go to the zero bucket (read as 0, clamped to min)
SELECT apivalue.approx_percentiles(s, '{0,0.5,1}'), apivalue.latency_buckets(s)
  FROM (SELECT apivalue.latency_summary(l, 200) AS s FROM (VALUES (0.0), (0.0), (1e-7)) v(l)) q;
-- interval latencies are milliseconds as EXTRACT(EPOCH) * 1000 reads them
SELECT apivalue.latency_min(s), apivalue.latency_max(s), apivalue.latency_count(s)
  FROM (SELECT apivalue.latency_summary(l, 200) AS s
          FROM (VALUES (interval '1.5 ms'), (interval '2 seconds'), (NULL)) v(l)) q;
-- the percentile rank rule is percentile_cont's: of 10 and 20, p50 is their
-- midpoint (within 1 %); the first and last ranks are the exact min and max
SELECT abs(apivalue.approx_percentile(s, 0.5) / 15 - 1) <= 0.01 AS p50_within_bound,
       apivalue.approx_percentile(s, 0) = 10 AS p0_is_min, apivalue.approx_percentile(s, 1) = 20 AS p100_is_max
  FROM (SELECT apivalue.latency_summary(l, 200) AS s FROM (VALUES (10.0), (20.0)) v(l)) q;

-- Bad input: errors with SQLSTATEs, never a crash.
\set VERBOSITY sqlstate
SELECT apivalue.latency_summary(-1.0, 200);
SELECT apivalue.latency_summary('NaN'::float8, 200);
SELECT apivalue.latency_summary('Infinity'::float8, 200);
SELECT apivalue.latency_summary(2e12, 200);
SELECT apivalue.latency_summary(interval '-1 second', 200);
SELECT apivalue.approx_percentile(apivalue.latency_summary(1.0, 200), 1.5);
SELECT apivalue.approx_percentiles(apivalue.latency_summary(1.0, 200), '{0.5,-0.1}');
SELECT apivalue.status_count(apivalue.latency_summary(1.0, 200), '6xx');
-- text input: every field is checked
SELECT 'nonsense'::apivalue.latency_summary;
SELECT '{"version":2,"status":[0,1,0,0,0,0,0],"zero":0,"min":5,"max":5,"lo":81,"counts":[1]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0],"zero":0,"min":5,"max":5,"lo":81,"counts":[1]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,-1,0,0,0,0,2],"zero":0,"min":5,"max":5,"lo":81,"counts":[1]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":5,"max":5,"lo":81,"counts":[2]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":5,"max":5,"lo":5000,"counts":[1]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":500,"max":5,"lo":81,"counts":[1]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":5,"max":5000,"lo":81,"counts":[1]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":5,"max":5,"lo":81,"counts":[-1,2]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":1e400,"max":5,"lo":81,"counts":[1]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":5,"max":5,"lo":81,"counts":[99999999999999999999]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[9223372036854775807,1,0,0,0,0,0],"zero":0,"min":0,"max":0,"lo":0,"counts":[]}'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":5,"max":5,"lo":81,"counts":[1]} x'::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,1,0,0,0,0,0],"zero":0,"min":1,"max":1,"lo":0,"counts":[]}'::apivalue.latency_summary;
\set VERBOSITY default
-- accepted: extra spaces, untrimmed zero buckets (trimmed on input), empty summary
SELECT ' { "version" : 1 , "status" : [0,1,0,0,0,0,0], "zero":0, "min":5, "max":5, "lo":80, "counts":[0,1,0] } '::apivalue.latency_summary;
SELECT '{"version":1,"status":[0,0,0,0,0,0,3],"zero":0,"min":0,"max":0,"lo":0,"counts":[]}'::apivalue.latency_summary;

-- Random data (deterministic): per group, the summary of the whole equals
-- the rollup of summaries of parts (by day, and by an arbitrary split),
-- exactly; text and binary forms read back exactly.
CREATE TABLE usage_ls_calls AS
SELECT g AS endpoint,
       (i % 5) AS part,
       timestamptz '2026-03-01 00:00+00' + (i * 37 % 1000) * interval '1 hour' AS ts,
       CASE WHEN hashint4(i * 7) % 17 = 0 THEN NULL
            ELSE exp(1.5 + 2.5 * ((hashint4(i) & 65535) / 65536.0) + (g % 3)) END::float8 AS latency_ms,
       CASE WHEN hashint4(i * 11) % 13 = 0 THEN NULL
            ELSE (ARRAY[200, 200, 200, 201, 204, 301, 400, 404, 429, 500, 503, 0])[1 + abs(hashint4(i * 3)) % 12] END AS status
  FROM generate_series(1, 24000) i, LATERAL (SELECT 1 + abs(hashint4(i * 5)) % 8 AS g) gg;
ANALYZE usage_ls_calls;

-- merged parts = whole, exactly (the text form prints every count, min, max)
SELECT * FROM avtest.diff(
  $$SELECT endpoint::text AS k, apivalue.rollup(s)::text AS v
      FROM (SELECT endpoint, date_trunc('day', ts, 'UTC') AS d, apivalue.latency_summary(latency_ms, status) AS s
              FROM usage_ls_calls GROUP BY 1, 2) p GROUP BY 1$$,
  $$SELECT endpoint::text AS k, apivalue.latency_summary(latency_ms, status)::text AS v FROM usage_ls_calls GROUP BY 1$$);
SELECT * FROM avtest.diff(
  $$SELECT endpoint::text AS k, apivalue.rollup(s ORDER BY part DESC)::text AS v
      FROM (SELECT endpoint, part, apivalue.latency_summary(latency_ms, status) AS s
              FROM usage_ls_calls GROUP BY 1, 2) p GROUP BY 1$$,
  $$SELECT endpoint::text AS k, apivalue.latency_summary(latency_ms, status)::text AS v FROM usage_ls_calls GROUP BY 1$$);
-- text and binary round trips (COPY ... FORMAT binary goes through send/recv)
CREATE TABLE usage_ls_parts AS
SELECT endpoint, part, apivalue.latency_summary(latency_ms, status) AS s
  FROM usage_ls_calls GROUP BY 1, 2;
CREATE TABLE usage_ls_copy (LIKE usage_ls_parts);
DO $$
DECLARE f text := format('/tmp/apivalue_usage_ls_%s.bin', pg_backend_pid());
BEGIN
  EXECUTE format('COPY usage_ls_parts TO %L (FORMAT binary)', f);
  EXECUTE format('COPY usage_ls_copy FROM %L (FORMAT binary)', f);
END $$;
SELECT count(*) AS summaries,
       count(*) FILTER (WHERE p.s::text::apivalue.latency_summary::text = p.s::text) AS text_round_trip,
       count(*) FILTER (WHERE c.s::text = p.s::text) AS binary_round_trip
  FROM usage_ls_parts p JOIN usage_ls_copy c USING (endpoint, part);

-- exact parts against plain SQL: calls, status classes, latency count, min, max
SELECT * FROM avtest.diff(
  $$SELECT endpoint::text AS k,
           concat_ws(' ', apivalue.calls(s), apivalue.latency_count(s),
                     apivalue.status_count(s, '2xx'), apivalue.status_count(s, '3xx'),
                     apivalue.status_count(s, '4xx'), apivalue.status_count(s, '5xx'),
                     apivalue.status_count(s, 'other'), apivalue.status_count(s, 'unknown'),
                     apivalue.latency_min(s), apivalue.latency_max(s),
                     apivalue.server_error_rate(s), apivalue.client_error_rate(s)) AS v
      FROM (SELECT endpoint, apivalue.latency_summary(latency_ms, status) AS s FROM usage_ls_calls GROUP BY 1) q$$,
  $$SELECT endpoint::text AS k,
           concat_ws(' ', count(*), count(latency_ms),
                     count(*) FILTER (WHERE status BETWEEN 200 AND 299), count(*) FILTER (WHERE status BETWEEN 300 AND 399),
                     count(*) FILTER (WHERE status BETWEEN 400 AND 499), count(*) FILTER (WHERE status BETWEEN 500 AND 599),
                     count(*) FILTER (WHERE status NOT BETWEEN 100 AND 599), count(*) FILTER (WHERE status IS NULL),
                     min(latency_ms), max(latency_ms),
                     (count(*) FILTER (WHERE status BETWEEN 500 AND 599))::float8 / count(status),
                     (count(*) FILTER (WHERE status BETWEEN 400 AND 499))::float8 / count(status)) AS v
      FROM usage_ls_calls GROUP BY 1$$);

-- approximate percentiles within the documented 1 % of percentile_cont, per
-- endpoint and per (endpoint, day) (small groups test the interpolation)
WITH a AS (
  SELECT endpoint, date_trunc('day', ts, 'UTC') AS d,
         apivalue.approx_percentiles(apivalue.latency_summary(latency_ms, status),
                                     '{0,0.01,0.25,0.5,0.9,0.95,0.99,0.999,1}') AS ap,
         percentile_cont('{0,0.01,0.25,0.5,0.9,0.95,0.99,0.999,1}'::float8[]) WITHIN GROUP (ORDER BY latency_ms) AS ex
    FROM usage_ls_calls GROUP BY GROUPING SETS ((1), (1, 2))
)
SELECT count(*) AS percentiles_compared,
       count(*) FILTER (WHERE abs(ap[i] - ex[i]) > 0.01 * ex[i] * (1 + 1e-9)) AS outside_bound,
       max(abs(ap[i] - ex[i]) / ex[i]) < 0.01 AS max_rel_error_below_1pct,
       max(abs(ap[i] - ex[i]) / ex[i]) > 0.001 AS buckets_are_not_exact
  FROM a, generate_subscripts(a.ap, 1) i;
-- wide range: 1 ns to 1e11 ms, log-uniform
WITH v AS (SELECT exp(ln(1e-6) + (ln(1e11) - ln(1e-6)) * ((hashint4(i) & 1048575) / 1048576.0))::float8 AS l
             FROM generate_series(1, 5000) i),
a AS (SELECT apivalue.approx_percentiles(apivalue.latency_summary(l, 200), '{0.001,0.1,0.3,0.5,0.7,0.9,0.999}') AS ap,
             percentile_cont('{0.001,0.1,0.3,0.5,0.7,0.9,0.999}'::float8[]) WITHIN GROUP (ORDER BY l) AS ex FROM v)
SELECT count(*) FILTER (WHERE abs(ap[i] - ex[i]) > 0.01 * ex[i] * (1 + 1e-9)) AS outside_bound
  FROM a, generate_subscripts(a.ap, 1) i;

-- Plan-mode equality: partition-wise aggregation over a partitioned copy
-- gives the same summaries (and really runs partial aggregates).
CREATE TABLE usage_ls_parted (LIKE usage_ls_calls) PARTITION BY LIST (part);
CREATE TABLE usage_ls_parted_0 PARTITION OF usage_ls_parted FOR VALUES IN (0, 1);
CREATE TABLE usage_ls_parted_2 PARTITION OF usage_ls_parted FOR VALUES IN (2, 3);
CREATE TABLE usage_ls_parted_4 PARTITION OF usage_ls_parted FOR VALUES IN (4);
INSERT INTO usage_ls_parted SELECT * FROM usage_ls_calls;
ANALYZE usage_ls_parted;
SET enable_partitionwise_aggregate = on;
SET enable_hashagg = off;
CREATE FUNCTION usage_ls_plan_has_partial(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
  RETURN j::text LIKE '%"Partial Mode": "Partial"%';
END $$;
SELECT usage_ls_plan_has_partial(
  'SELECT endpoint, apivalue.latency_summary(latency_ms, status) FROM usage_ls_parted GROUP BY endpoint') AS partial_aggregation;
SELECT * FROM avtest.diff(
  $$SELECT endpoint::text AS k, apivalue.latency_summary(latency_ms, status)::text AS v FROM usage_ls_parted GROUP BY 1$$,
  $$SELECT endpoint::text AS k, apivalue.latency_summary(latency_ms, status)::text AS v FROM usage_ls_calls GROUP BY 1$$);
SELECT * FROM avtest.diff(
  $$SELECT 'all' AS k, apivalue.rollup(s)::text AS v FROM usage_ls_parts$$,
  $$SELECT 'all' AS k, apivalue.latency_summary(latency_ms, status)::text AS v FROM usage_ls_parted$$);
RESET enable_partitionwise_aggregate;
RESET enable_hashagg;

-- A summary stored in a table rolls up later (the BI pattern: daily rollups).
SELECT r.endpoint, apivalue.calls(r.s) AS calls, e.calls AS plain_calls,
       abs(apivalue.approx_percentile(r.s, 0.5) / e.p50 - 1) <= 0.01 AS p50_within_1pct
  FROM (SELECT endpoint, apivalue.rollup(s) AS s FROM usage_ls_parts GROUP BY endpoint) r
  JOIN (SELECT endpoint, count(*) AS calls, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50
          FROM usage_ls_calls GROUP BY endpoint) e USING (endpoint)
 ORDER BY r.endpoint;

DROP TABLE usage_ls_calls, usage_ls_parts, usage_ls_copy, usage_ls_parted;
DROP FUNCTION usage_ls_plan_has_partial(text);
