SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

-- latency_summary's two in-memory forms.  A group's first latencies go to a
-- sparse list of bucket keys (16, then 80, then 208 keys), later ones to the
-- dense bucket window; partial states of either form are merged.  Whatever
-- the path, the summary must be the same to the bit, so each group's summary
-- is compared (text form: every count, min and max) with the rollup of its
-- calls' one-call summaries, which merges canonical one-bucket summaries
-- and so never holds a sparse state.

-- Groups named by their size: "plain" groups have a positive latency on
-- every call, so their sizes sit on both sides of each sparse limit;
-- "mixed" groups add NULL latencies, zero latencies (the zero bucket) and
-- NULL or unusual statuses.
CREATE TABLE usage_lf_calls AS
SELECT kind || '_' || n AS grp, i,
       CASE WHEN kind = 'mixed' AND i % 11 = 0 THEN NULL
            WHEN kind = 'mixed' AND i % 23 = 0 THEN 0.0
            ELSE exp(0.5 + 6 * ((hashint4(n * 100000 + i) & 65535) / 65536.0)) END::float8 AS latency_ms,
       CASE WHEN kind = 'mixed' AND i % 7 = 0 THEN NULL
            ELSE (ARRAY[200, 201, 302, 404, 500, 0, 999])[1 + abs(hashint4(i)) % 7] END AS status
  FROM (VALUES ('plain', '{1,2,15,16,17,18,79,80,81,82,207,208,209,210,500}'::int[]),
               ('mixed', '{3,20,100,250,600}'::int[])) k(kind, sizes),
       unnest(sizes) n, generate_series(1, n) i;
ANALYZE usage_lf_calls;

SELECT * FROM avtest.diff(
  $$SELECT grp AS k, apivalue.latency_summary(latency_ms, status)::text AS v FROM usage_lf_calls GROUP BY 1$$,
  $$SELECT grp AS k, apivalue.rollup(s)::text AS v
      FROM (SELECT grp, i, apivalue.latency_summary(latency_ms, status) AS s
              FROM usage_lf_calls GROUP BY 1, 2) one GROUP BY 1$$);
-- and against plain SQL: calls, latencies, min and max
SELECT * FROM avtest.diff(
  $$SELECT grp AS k, concat_ws(' ', apivalue.calls(s), apivalue.latency_count(s),
                               apivalue.latency_min(s), apivalue.latency_max(s)) AS v
      FROM (SELECT grp, apivalue.latency_summary(latency_ms, status) AS s FROM usage_lf_calls GROUP BY 1) q$$,
  $$SELECT grp AS k, concat_ws(' ', count(*), count(latency_ms), min(latency_ms), max(latency_ms)) AS v
      FROM usage_lf_calls GROUP BY 1$$);

-- Merging partial states of both forms: partition-wise aggregation (partial
-- aggregate per partition, merged in partition order by a hash aggregate)
-- over parts chosen so that the merge meets each case:
--   a: sparse + sparse, fitting;       b: sparse + sparse past 208 keys, + sparse
--   c: dense + sparse + sparse;        d: sparse + dense
--   e: dense alone;                    f: no latencies at all
--   g: 16 (a full first list) + 1 + 64 (past 80 keys)
CREATE TABLE usage_lf_parted (grp text, part int, i int, latency_ms float8, status int)
  PARTITION BY LIST (part);
CREATE TABLE usage_lf_parted_0 PARTITION OF usage_lf_parted FOR VALUES IN (0);
CREATE TABLE usage_lf_parted_1 PARTITION OF usage_lf_parted FOR VALUES IN (1);
CREATE TABLE usage_lf_parted_2 PARTITION OF usage_lf_parted FOR VALUES IN (2);
INSERT INTO usage_lf_parted
SELECT g, p, i,
       CASE WHEN g = 'f' THEN NULL
            ELSE exp(1 + 5 * ((hashint4(ascii(g) * 1000000 + p * 10000 + i) & 65535) / 65536.0)) END,
       (ARRAY[200, 404, 503])[1 + i % 3]
  FROM (VALUES ('a', '{10,5,0}'::int[]), ('b', '{150,100,30}'), ('c', '{300,10,10}'),
               ('d', '{10,300,0}'), ('e', '{0,0,400}'), ('f', '{5,5,5}'), ('g', '{16,1,64}')) v(g, sizes),
       generate_series(0, 2) p, generate_series(1, sizes[p + 1]) i;
ANALYZE usage_lf_parted;
SET enable_partitionwise_aggregate = on;
CREATE FUNCTION usage_lf_plan_has_partial(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
  RETURN j::text LIKE '%"Partial Mode": "Partial"%';
END $$;
SELECT usage_lf_plan_has_partial(
  'SELECT grp, apivalue.latency_summary(latency_ms, status) FROM usage_lf_parted GROUP BY grp') AS partial_aggregation;
SELECT * FROM avtest.diff(
  $$SELECT grp AS k, apivalue.latency_summary(latency_ms, status)::text AS v FROM usage_lf_parted GROUP BY 1$$,
  $$SELECT grp AS k, apivalue.rollup(s)::text AS v
      FROM (SELECT grp, i, part, apivalue.latency_summary(latency_ms, status) AS s
              FROM usage_lf_parted GROUP BY 1, 2, 3) one GROUP BY 1$$);
RESET enable_partitionwise_aggregate;

-- The combine function called by hand returns the canonical form too.
WITH p AS (
  SELECT grp, part, apivalue.latency_summary(latency_ms, status) AS s
    FROM usage_lf_parted WHERE grp IN ('b', 'd') GROUP BY 1, 2)
SELECT x.grp, x.part AS part_a, y.part AS part_b,
       apivalue.latency_summary_combine(x.s, y.s)::text
         = (SELECT apivalue.rollup(s)::text FROM p WHERE p.grp = x.grp AND p.part IN (x.part, y.part)) AS same_as_rollup,
       apivalue.latency_summary_combine(x.s, NULL)::text = x.s::text AS with_null
  FROM p x JOIN p y ON x.grp = y.grp AND x.part < y.part
 ORDER BY 1, 2, 3;

DROP TABLE usage_lf_calls, usage_lf_parted;
DROP FUNCTION usage_lf_plan_has_partial(text);
