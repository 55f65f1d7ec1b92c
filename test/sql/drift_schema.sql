-- schema_drift: hand-made cases, bad input, random data against a plain-SQL
-- reference, and the injected drift of the sample data set.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql
SET timezone = 'UTC';

-- ---- hand-made cases: 100 rows before 2026-02-01, 100 after, per group ----
CREATE TABLE dsch_events (grp text, ts timestamptz, payload jsonb, body text);
INSERT INTO dsch_events
SELECT 'orders', '2026-01-01'::timestamptz + i * interval '1 hour',
       jsonb_build_object(
         'stable', 'x',                                                       -- never changes
         'gone', 1,                                                           -- removed after
         'num', 5,                                                            -- number -> string in 50% after
         'opt', CASE WHEN i % 5 <> 0 THEN true END,                           -- 80% non-null before
         'ctx', jsonb_build_object('os', 'ios', 'v', 1),
         'small', 1),                                                         -- 100% -> 97%: below min_change
       NULL
FROM generate_series(0, 99) i;
INSERT INTO dsch_events
SELECT 'orders', '2026-02-01'::timestamptz + i * interval '1 hour',
       jsonb_build_object(
         'stable', 'x',
         'num', CASE WHEN i % 2 = 0 THEN to_jsonb(5) ELSE to_jsonb('5'::text) END,
         'opt', CASE WHEN i % 5 <> 0 THEN true END,
         'ctx', jsonb_build_object('os', 'ios', 'v', CASE WHEN i < 60 THEN to_jsonb(1) END),  -- presence same, type null 40%
         'new', CASE WHEN i < 40 THEN 'added in 40%' END)
       || CASE WHEN i >= 3 THEN '{"small": 1}'::jsonb ELSE '{}' END
       || CASE WHEN i = 7 THEN '{"rare": 1}'::jsonb ELSE '{}' END,      -- 1%: below min_change
       NULL
FROM generate_series(0, 99) i;
-- 'new' is NULL-valued (a JSON null is still a key) unless i < 40: make it absent instead.
UPDATE dsch_events SET payload = payload - 'new' WHERE payload -> 'new' = 'null';
-- NULL payloads and NULL times are ignored; a group seen only after is skipped.
INSERT INTO dsch_events VALUES ('orders', '2026-02-10', NULL, NULL), ('orders', NULL, '{"zzz": 1}', NULL),
  ('signup', '2026-03-01', '{"only": "after"}', NULL), (NULL, '2026-01-02', '{"a": 1}', NULL),
  (NULL, '2026-02-02', '{"b": 1}', NULL);

SELECT group_value, key_path, change, round(before_share::numeric, 4) AS before_share,
       round(after_share::numeric, 4) AS after_share, before_types, after_types
FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2026-02-01', 'grp');

-- min_change 0: every move is reported (the 1% key, the 97% key); 0.5: only
-- the larger moves.  No group column: one group (group_value NULL).
SELECT group_value, key_path, change
FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2026-02-01', 'grp', min_change => 0);
SELECT group_value, key_path, change
FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2026-02-01', 'grp', 0.5);
SELECT group_value, key_path, change
FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2026-02-01', min_change => 0.3);
-- A split before or after every row: nothing to compare.
SELECT count(*) AS nothing_before FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2000-01-01', 'grp');
SELECT count(*) AS nothing_after FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2030-01-01', 'grp');
-- A timestamp (without time zone) column works too.
CREATE TABLE dsch_local AS SELECT grp, ts::timestamp AS ts, payload FROM dsch_events;
SELECT count(*) AS drifted_keys FROM apivalue.schema_drift('dsch_local', 'payload', 'ts', '2026-02-01', 'grp');

-- ---- bad input ----
SELECT * FROM apivalue.schema_drift('dsch_events', 'nope', 'ts', '2026-02-01');
SELECT * FROM apivalue.schema_drift('dsch_events', 'body', 'ts', '2026-02-01');
SELECT * FROM apivalue.schema_drift('dsch_events', 'payload', 'grp', '2026-02-01');
SELECT * FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2026-02-01', 'grp; DROP TABLE dsch_events');
SELECT * FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', NULL);
SELECT * FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', 'infinity');
SELECT * FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2026-02-01', min_change => 1.5);
SELECT * FROM apivalue.schema_drift('dsch_events', 'payload', 'ts', '2026-02-01', min_change => NULL);
SELECT * FROM apivalue.schema_drift('dsch_missing', 'payload', 'ts', '2026-02-01');

-- ---- random data against a plain-SQL reference ----
-- Groups g0..g5; before and after the split each key appears with a
-- probability and a type mix drawn per (group, side, key).
SELECT setseed(0.23);
CREATE TABLE dsch_rand_plan AS
SELECT 'g' || g AS grp, after, k,
       CASE WHEN random() < 0.3 THEN 0 ELSE random() END AS presence,
       CASE WHEN random() < 0.6 THEN 0 ELSE random() END AS string_share
FROM generate_series(0, 5) g, (VALUES (false), (true)) s(after), unnest(ARRAY['a', 'b', 'c', 'n.x', 'ü']) k;
CREATE TABLE dsch_rand AS
SELECT p.grp, ts, (SELECT coalesce(jsonb_object_agg(
                     CASE WHEN x.k = 'n.x' THEN 'n' ELSE x.k END,
                     CASE WHEN x.k = 'n.x' THEN jsonb_build_object('x', v) ELSE v END), '{}')
                   FROM dsch_rand_plan x,
                        LATERAL (SELECT CASE WHEN random() < x.string_share THEN to_jsonb('s'::text)
                                             ELSE to_jsonb(1) END AS v) vv
                   WHERE x.grp = p.grp AND x.after = p.after AND random() < x.presence
                     AND r.i > 0) AS payload
FROM (SELECT DISTINCT grp, after FROM dsch_rand_plan) p,
     LATERAL (SELECT i, CASE WHEN p.after THEN '2026-02-01'::timestamptz + i * interval '1 minute'
                             ELSE '2026-01-01'::timestamptz + i * interval '1 minute' END AS ts
              FROM generate_series(0, 150 + floor(random() * 150)::int) i) r;
ANALYZE dsch_rand;

-- Reference: per (group, side, path) rows and type counts by jsonb_each,
-- then the documented rules.
CREATE FUNCTION dsch_reference(min_change float8) RETURNS TABLE (k text, v text)
LANGUAGE sql STABLE AS $$
  WITH rows_ AS (
    SELECT grp, ts >= '2026-02-01' AS after, count(payload) AS n FROM dsch_rand GROUP BY 1, 2
  ), paths AS (
    SELECT grp, ts >= '2026-02-01' AS after, e.key AS path, jsonb_typeof(e.value) AS ty
    FROM dsch_rand, jsonb_each(payload) e
    UNION ALL
    SELECT grp, ts >= '2026-02-01', e.key || '.' || f.key, jsonb_typeof(f.value)
    FROM dsch_rand, jsonb_each(payload) e, jsonb_each(e.value) f
    WHERE jsonb_typeof(e.value) = 'object'
  ), cnt AS (
    SELECT grp, after, path, ty, count(*) AS n FROM paths GROUP BY 1, 2, 3, 4
  ), keys AS (
    SELECT DISTINCT grp, path FROM cnt
  ), tys AS (
    SELECT DISTINCT grp, path, ty FROM cnt
  ), side AS (
    SELECT k.grp, k.path,
           (SELECT coalesce(sum(n), 0) FROM cnt c WHERE c.grp = k.grp AND c.path = k.path AND NOT c.after) AS br,
           (SELECT coalesce(sum(n), 0) FROM cnt c WHERE c.grp = k.grp AND c.path = k.path AND c.after) AS ar,
           (SELECT n FROM rows_ r WHERE r.grp = k.grp AND NOT r.after) AS bn,
           (SELECT n FROM rows_ r WHERE r.grp = k.grp AND r.after) AS an
    FROM keys k
  ), moved AS (
    SELECT s.*, EXISTS (
             SELECT 1 FROM tys t
             WHERE t.grp = s.grp AND t.path = s.path AND s.br > 0 AND s.ar > 0
               AND abs(coalesce((SELECT n FROM cnt c WHERE (c.grp, c.path, c.ty) = (t.grp, t.path, t.ty) AND NOT c.after), 0)::float8 / s.br
                       - coalesce((SELECT n FROM cnt c WHERE (c.grp, c.path, c.ty) = (t.grp, t.path, t.ty) AND c.after), 0)::float8 / s.ar)
                   >= greatest(min_change, 1e-300)) AS tm
    FROM side s
  )
  SELECT grp || ' ' || path,
         concat_ws(' ', ch, round((br::float8 / bn)::numeric, 10), round((ar::float8 / an)::numeric, 10))
  FROM (SELECT m.*,
               CASE WHEN br = 0 THEN CASE WHEN ar::float8 / an >= min_change THEN 'added' END
                    WHEN ar = 0 THEN CASE WHEN br::float8 / bn >= min_change THEN 'removed' END
                    WHEN tm THEN 'type_changed'
                    WHEN abs(ar::float8 / an - br::float8 / bn) >= min_change
                         AND ar::float8 / an <> br::float8 / bn THEN 'presence_changed' END AS ch
        FROM moved m) z
  WHERE ch IS NOT NULL AND bn > 0 AND an > 0
$$;

SELECT mc AS min_change, x.*
FROM unnest(ARRAY[0, 0.05, 0.2]::float8[]) mc,
     LATERAL avtest.diff(
       format($$SELECT group_value || ' ' || key_path AS k,
                       concat_ws(' ', change, round(before_share::numeric, 10), round(after_share::numeric, 10)) AS v
                FROM apivalue.schema_drift('dsch_rand', 'payload', 'ts', '2026-02-01', 'grp', %s)$$, mc),
       format('SELECT * FROM dsch_reference(%s)', mc)) x
ORDER BY mc;

-- ---- the sample data set: the injected drift, exactly ----
\set ECHO none
\i test/data/sample.sql
\set ECHO all
SELECT sample.generate(users => 300) > 0 AS generated;
-- Split at the release of v2, per event: api_call is the only group that
-- drifts, and its three keys are the injected ones (region fades as users
-- move to v2: its share drops; it is removed only from v2 events).
SELECT d.group_value, d.key_path, d.change, round(d.before_share::numeric, 3) AS before_share,
       round(d.after_share::numeric, 3) AS after_share, d.before_types,
       ARRAY(SELECT jsonb_object_keys(d.after_types) ORDER BY 1) AS after_types
FROM sample.ground_truth gt,
     apivalue.schema_drift('sample.events', 'payload', 'received_at',
                           (gt.detail ->> 'released_at')::timestamptz, 'event') d
WHERE gt.fault = 'schema_drift'
ORDER BY 1, 2;
SELECT (SELECT array_agg(DISTINCT d.key_path ORDER BY d.key_path)
        FROM sample.ground_truth gt,
             apivalue.schema_drift('sample.events', 'payload', 'received_at',
                                   (gt.detail ->> 'released_at')::timestamptz, 'event') d
        WHERE gt.fault = 'schema_drift')
       = (SELECT array_agg(k ORDER BY k)
          FROM sample.ground_truth gt,
               LATERAL (SELECT jsonb_array_elements_text(gt.detail -> 'removed')
                        UNION ALL SELECT jsonb_array_elements_text(gt.detail -> 'added')
                        UNION ALL SELECT jsonb_object_keys(gt.detail -> 'type_changed')) x(k)
          WHERE gt.fault = 'schema_drift') AS exactly_the_injected_keys;
-- v1 events before the release against v2 events after it: the change of
-- each key is the one recorded in the ground truth.
CREATE VIEW dsch_versions AS
SELECT * FROM sample.events e
WHERE e.api_version = 'v2'
   OR e.received_at < (SELECT (detail ->> 'released_at')::timestamptz FROM sample.ground_truth WHERE fault = 'schema_drift');
SELECT q.group_value, q.key_path, q.change, q.before_share, q.after_share, q.types_before, q.types_after,
       CASE q.change
         WHEN 'removed' THEN gt.detail -> 'removed' ? q.key_path
         WHEN 'added' THEN gt.detail -> 'added' ? q.key_path
         WHEN 'type_changed' THEN gt.detail -> 'type_changed' -> q.key_path = to_jsonb(q.types_before || q.types_after)
       END AS matches_ground_truth
FROM sample.ground_truth gt,
     LATERAL (SELECT d.*, ARRAY(SELECT jsonb_object_keys(d.before_types) ORDER BY 1) AS types_before,
                     ARRAY(SELECT jsonb_object_keys(d.after_types) ORDER BY 1) AS types_after
              FROM apivalue.schema_drift('dsch_versions', 'payload', 'received_at',
                                         (gt.detail ->> 'released_at')::timestamptz, 'event') d) q
WHERE gt.fault = 'schema_drift'
ORDER BY q.key_path;
-- Nothing on the clean subset.
SELECT count(*) AS drift_on_clean_subset
FROM sample.ground_truth gt,
     apivalue.schema_drift('sample.clean_events', 'payload', 'received_at',
                           (gt.detail ->> 'released_at')::timestamptz, 'event') d
WHERE gt.fault = 'schema_drift';

DROP VIEW dsch_versions;
DROP FUNCTION dsch_reference(float8);
DROP TABLE dsch_events, dsch_local, dsch_rand_plan, dsch_rand;
