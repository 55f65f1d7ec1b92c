-- jsonb_shape and jsonb_shape_merge: edge cases, path escaping, depth,
-- exact merging, bad input, and random nested payloads against a plain-SQL
-- reference (recursive jsonb_each / jsonb_typeof).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

-- ---- hand-made edge cases (one shape per case) ----
SELECT label, apivalue.jsonb_shape(p) AS shape
FROM (VALUES
  ('no rows', NULL::jsonb[]),
  ('only NULL payloads', ARRAY[NULL, NULL]::jsonb[]),
  ('empty object', ARRAY['{}']::jsonb[]),
  ('empty nested object and array', ARRAY['{"a": {}, "b": []}']::jsonb[]),
  ('top-level array, scalars, JSON null: rows only', ARRAY['[1, {"a": 1}]', '"s"', '7', 'true', 'null']::jsonb[]),
  ('NULL payloads skipped, others counted', ARRAY['{"a": 1}', NULL, '{"a": "x"}']::jsonb[]),
  ('every JSON type under one key', ARRAY['{"k": "s"}', '{"k": 1.5}', '{"k": false}', '{"k": null}',
                                          '{"k": {}}', '{"k": [1]}']::jsonb[]),
  ('arrays are not descended', ARRAY['{"a": [{"b": 1}, {"b": 2}]}']::jsonb[]),
  ('key missing in some rows', ARRAY['{"a": 1, "b": 2}', '{"a": 2}', '{"c": {"d": true}}']::jsonb[])
) v(label, ps)
LEFT JOIN LATERAL unnest(ps) p ON true
GROUP BY label ORDER BY label COLLATE "C";

-- Key paths: '.' and '\' escaped with '\', a top-level key "_rows" written
-- "\_rows" (only at the top), Unicode and the empty key as they are.
SELECT e.key AS path, e.value AS counts
FROM (SELECT apivalue.jsonb_shape(p) AS s FROM (VALUES
  ('{"a.b": 1, "a": {"b": "nested, not the same path"}}'::jsonb),
  ('{"_rows": 3, "x": {"_rows": true}}'),
  ('{"back\\slash": {"dot.inside": null}}'),
  ('{"ключ": {"日本": "ü"}, "": {"": 0}, "trailing.": 1}')) v(p)) q,
  jsonb_each(q.s) e
ORDER BY e.key COLLATE "C";

-- Depth: 1 = top-level keys; objects at the last level are counted, not
-- descended.
SELECT d AS max_depth, apivalue.jsonb_shape(p, d) AS shape
FROM (VALUES ('{"a": {"b": {"c": {"d": {"e": 1}}}}, "z": 0}'::jsonb)) v(p),
     generate_series(1, 5) d
GROUP BY d ORDER BY d;
SELECT apivalue.jsonb_shape(p) = apivalue.jsonb_shape(p, 3) AS default_depth_is_3
FROM (VALUES ('{"a": {"b": {"c": {"d": {"e": 1}}}}}'::jsonb)) v(p);

-- ---- merging is exact ----
SELECT setseed(0.42);
CREATE TABLE ds_payload AS
SELECT i AS id, i % 7 AS g,
       CASE WHEN i % 50 = 0 THEN NULL
            ELSE jsonb_build_object('event', 'e' || (i % 3),
                                    'n', CASE WHEN random() < 0.8 THEN to_jsonb(i) ELSE to_jsonb(i::text) END,
                                    'ctx', jsonb_build_object('os', CASE WHEN random() < 0.5 THEN 'ios' END,
                                                              'v', random() < 0.5))
                 || CASE WHEN random() < 0.3 THEN '{"extra": [1]}'::jsonb ELSE '{}' END END AS p
FROM generate_series(1, 3000) i;
ANALYZE ds_payload;

-- One shape of all rows = the merge of per-group shapes = the merge of
-- merged shapes (a rollup of a rollup).
SELECT (SELECT apivalue.jsonb_shape(p) FROM ds_payload)
       = (SELECT apivalue.jsonb_shape_merge(s) FROM (SELECT apivalue.jsonb_shape(p) AS s FROM ds_payload GROUP BY g) q)
       AS merge_of_groups,
       (SELECT apivalue.jsonb_shape(p) FROM ds_payload)
       = (SELECT apivalue.jsonb_shape_merge(s2) FROM (
            SELECT apivalue.jsonb_shape_merge(s) AS s2
            FROM (SELECT g, apivalue.jsonb_shape(p) AS s FROM ds_payload GROUP BY g) q
            GROUP BY g % 2) r)
       AS merge_of_merges,
       (SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES (NULL::jsonb)) v(s)) AS merge_of_nothing;

-- Merging shapes with escaped keys keeps them.
SELECT apivalue.jsonb_shape_merge(s) = apivalue.jsonb_shape_merge(s2) AS escaped_paths_round_trip
FROM (SELECT apivalue.jsonb_shape(p) AS s, apivalue.jsonb_shape_merge(apivalue.jsonb_shape(p)) OVER () AS s2
      FROM (VALUES ('{"a.b": {"\\": 1}, "_rows": {"_rows": 2}, "": {"": 1}, "é": 1}'::jsonb)) v(p)) q;
SELECT apivalue.jsonb_shape_merge(s) AS merged
FROM (VALUES ('{"_rows": 2, "\\_rows": {"rows": 1, "number": 1}, "a\\.b.c": {"rows": 2, "string": 2}}'::jsonb),
             ('{"_rows": 1, "a\\.b": {"rows": 1, "object": 1}}')) v(s);

-- Partial aggregation (serialize, deserialize, combine) gives the same
-- shapes as one process, whatever the plan.
SET max_parallel_workers_per_gather = 0;
CREATE TABLE ds_serial AS SELECT g, apivalue.jsonb_shape(p) AS s FROM ds_payload GROUP BY g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT count(*) AS groups, count(*) FILTER (WHERE q.s = d.s) AS same_shape
FROM (SELECT g, apivalue.jsonb_shape(p) AS s FROM ds_payload GROUP BY g) q JOIN ds_serial d USING (g);
SELECT (SELECT apivalue.jsonb_shape(p) FROM ds_payload)
       = (SELECT apivalue.jsonb_shape_merge(s) FROM ds_serial) AS whole_table_same;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
DROP TABLE ds_serial;

-- ---- bad input ----
SELECT apivalue.jsonb_shape(p, 0) FROM (VALUES ('{}'::jsonb)) v(p);
SELECT apivalue.jsonb_shape(p, 101) FROM (VALUES ('{}'::jsonb)) v(p);
SELECT apivalue.jsonb_shape(p, NULL) FROM (VALUES ('{}'::jsonb)) v(p);
SET max_parallel_workers_per_gather = 0;   -- one process: the transition function sees both
SELECT apivalue.jsonb_shape(p, CASE WHEN id = 1 THEN 2 ELSE 3 END) FROM ds_payload WHERE id < 5;
RESET max_parallel_workers_per_gather;
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('[1]'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"a": {"rows": 1, "number": 1}}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": -1}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": 1.5}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": "1"}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": 1e30}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": 1, "a": 1}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": 1, "a": {"rows": 2, "number": 1}}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": 1, "a": {"rows": 1, "integer": 1}}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": 1, "a\\b": {"rows": 1, "number": 1}}'::jsonb)) v(s);
SELECT apivalue.jsonb_shape_merge(s) FROM (VALUES ('{"_rows": 1, "a.\\_b": {"rows": 1, "number": 1}}'::jsonb)) v(s);

-- ---- random nested payloads against the plain-SQL reference ----
-- A random JSON value: objects of 0-4 keys from a small pool (dots,
-- backslashes, Unicode, the empty key and "_rows" included), arrays,
-- strings, numbers, booleans, nulls; depth up to 6.
CREATE FUNCTION ds_random_json(depth int, top boolean) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  keys text[] := ARRAY['a', 'b', 'c', 'id', 'user.id', 'x\y', 'ü', 'データ', '', '_rows', 'meta', 'a.b'];
  r float8 := random();
  o jsonb := '{}';
  i int;
BEGIN
  IF top AND r < 0.08 THEN
    RETURN (ARRAY['[1, {"a": 2}]', '"text"', '42', 'false', 'null', '[]'])[1 + floor(random() * 6)::int]::jsonb;
  END IF;
  IF top OR (depth < 6 AND r < 0.35) THEN
    FOR i IN 1 .. floor(random() * 5)::int LOOP
      o := o || jsonb_build_object(keys[1 + floor(random() * cardinality(keys))::int],
                                   ds_random_json(depth + 1, false));
    END LOOP;
    RETURN o;
  END IF;
  r := random();
  RETURN CASE
    WHEN r < 0.25 THEN to_jsonb(md5(r::text))
    WHEN r < 0.50 THEN to_jsonb(floor(r * 1000))
    WHEN r < 0.62 THEN to_jsonb(r < 0.56)
    WHEN r < 0.72 THEN 'null'::jsonb
    WHEN r < 0.88 THEN jsonb_build_array(1, 'two', jsonb_build_object('a', 1))
    ELSE '{}'::jsonb END;
END $$;

SELECT setseed(0.7);
CREATE TABLE ds_random AS
SELECT i AS id, i % 13 AS g, CASE WHEN i % 97 = 0 THEN NULL ELSE ds_random_json(1, true) END AS p
FROM generate_series(1, 4000) i;
ANALYZE ds_random;
SELECT count(*) AS rows, count(*) FILTER (WHERE jsonb_typeof(p) = 'object') AS objects,
       count(DISTINCT p) AS distinct_payloads
FROM ds_random;

-- The reference: every (row, path) by recursive jsonb_each on objects, keys
-- escaped as documented, counted per path and JSON type.
CREATE FUNCTION ds_reference(max_depth int, grouped boolean DEFAULT true) RETURNS TABLE (k text, v text)
LANGUAGE sql STABLE AS $$
  WITH RECURSIVE t AS (
    SELECT id, CASE WHEN grouped THEN g ELSE 0 END AS g, p FROM ds_random
  ), walk(id, g, path, depth, val) AS (
    SELECT t.id, t.g,
           CASE WHEN e.key = '_rows' THEN '\_rows'
                ELSE replace(replace(e.key, '\', '\\'), '.', '\.') END,
           1, e.value
    FROM t, jsonb_each(t.p) e
    WHERE jsonb_typeof(t.p) = 'object'
    UNION ALL
    SELECT w.id, w.g, w.path || '.' || replace(replace(e.key, '\', '\\'), '.', '\.'), w.depth + 1, e.value
    FROM walk w, jsonb_each(w.val) e
    WHERE jsonb_typeof(w.val) = 'object' AND w.depth < max_depth
  ), per_type AS (
    SELECT g, path, jsonb_typeof(val) AS ty, count(*) AS n FROM walk GROUP BY 1, 2, 3
  ), per_path AS (
    SELECT g, path, jsonb_object_agg(ty, n) || jsonb_build_object('rows', sum(n)) AS counts
    FROM per_type GROUP BY 1, 2
  )
  SELECT g || ' ' || path, counts::text FROM per_path
  UNION ALL
  SELECT g || ' _rows', count(p)::text FROM t GROUP BY g
$$;

SELECT d AS max_depth, x.*
FROM generate_series(1, 4) d,
     LATERAL avtest.diff(
       format($$SELECT q.g || ' ' || e.key AS k, e.value::text AS v
                FROM (SELECT g, apivalue.jsonb_shape(p, %s) AS s FROM ds_random GROUP BY g) q, jsonb_each(q.s) e$$, d),
       format('SELECT * FROM ds_reference(%s)', d)) x
ORDER BY d;
-- Default depth (3), all rows in one group.
SELECT * FROM avtest.diff(
  $$SELECT '0 ' || e.key AS k, e.value::text AS v FROM jsonb_each((SELECT apivalue.jsonb_shape(p) FROM ds_random)) e$$,
  $$SELECT * FROM ds_reference(3, false)$$);

DROP FUNCTION ds_reference(int, boolean);
DROP FUNCTION ds_random_json(int, boolean);
DROP TABLE ds_payload, ds_random;
