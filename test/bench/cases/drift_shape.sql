-- title: jsonb_shape per event (depth 3) vs recursive jsonb_each in plain SQL
-- The floor reads (detoasts) every payload and groups by event: what any
-- payload analysis pays before looking inside.  The hand-written SQL is the
-- reference of test/sql/drift_shape.sql: recursive jsonb_each to depth 3,
-- counted per (event, path, JSON type).
-- apivalue:
SELECT event, apivalue.jsonb_shape(payload) FROM sample.events GROUP BY event;
-- hand:
WITH RECURSIVE walk(event, path, depth, val) AS (
  SELECT e.event, replace(replace(j.key, '\', '\\'), '.', '\.'), 1, j.value
  FROM sample.events e, jsonb_each(e.payload) j
  WHERE jsonb_typeof(e.payload) = 'object'
  UNION ALL
  SELECT w.event, w.path || '.' || replace(replace(j.key, '\', '\\'), '.', '\.'), w.depth + 1, j.value
  FROM walk w, jsonb_each(w.val) j
  WHERE jsonb_typeof(w.val) = 'object' AND w.depth < 3
)
SELECT event, path, jsonb_typeof(val) AS json_type, count(*) FROM walk GROUP BY 1, 2, 3;
-- floor:
SELECT event, count(jsonb_typeof(payload)) FROM sample.events GROUP BY event;
