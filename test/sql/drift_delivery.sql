-- delivery_by_segment: hand-made cases, bad input, random data against a
-- plain-SQL reference, and the lossy SDK of the sample data set.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

-- The normal tail behind the p-values.
SELECT z, round(apivalue._normal_upper_tail(z)::numeric, 7) AS upper_tail
FROM unnest(ARRAY['-Infinity', -1.959963985, 0, 1.644853627, 2.326347874, 5, 'Infinity']::float8[]) z;
SELECT apivalue._normal_upper_tail(10) BETWEEN 7.6e-24 AND 7.7e-24 AS keeps_small_p_values;

-- ---- hand-made cases ----
-- Segment "lossy": 6 devices, each sending 1..100 and losing every 5th
-- number from 2 on (19 lost each).  "ok": 6 devices, nothing lost, with
-- duplicates and a counter that resets (1..100 then 1..40: the union, no
-- loss).  "solo": one device losing half of 1..20.  "noisy": 5 devices, one of
-- them losing a burst of 30 (a single incident: not significant once
-- clustered by device).  NULL segment: its own segment.  NULL device or
-- sequence number: skipped.
CREATE TABLE dd_events (sdk text, device text, seq bigint, note text);
INSERT INTO dd_events
SELECT 'lossy', 'L' || d, s, NULL FROM generate_series(1, 6) d, generate_series(1, 100) s WHERE s % 5 <> 2 OR s = 2
UNION ALL
SELECT 'ok', 'K' || d, s, NULL FROM generate_series(1, 6) d, generate_series(1, 100) s
UNION ALL
SELECT 'ok', 'K1', s, 'duplicate' FROM generate_series(10, 20) s
UNION ALL
SELECT 'ok', 'K2', s, 'reset' FROM generate_series(1, 40) s
UNION ALL
SELECT 'solo', 'S1', s, NULL FROM generate_series(1, 20) s WHERE s NOT BETWEEN 2 AND 11
UNION ALL
SELECT 'noisy', 'N' || d, s, NULL FROM generate_series(1, 5) d, generate_series(1, 100) s
WHERE NOT (d = 1 AND s BETWEEN 31 AND 60)
UNION ALL
SELECT NULL, 'X' || d, s, NULL FROM generate_series(1, 3) d, generate_series(1, 50) s
UNION ALL
SELECT 'ok', NULL, 5, 'no device' UNION ALL SELECT 'ok', 'K3', NULL, 'no seq';

SELECT segment, devices, received, expected, round(loss_rate::numeric, 4) AS loss_rate,
       round(p_value::numeric, 6) AS p_value, flagged
FROM apivalue.delivery_by_segment('dd_events', 'device', 'seq', 'sdk');

-- The same rows in another order give the same answer (order is irrelevant).
CREATE TABLE dd_events_shuffled AS SELECT * FROM dd_events ORDER BY md5(coalesce(device, '') || seq), note;
SELECT (SELECT array_agg(t ORDER BY t.segment) FROM apivalue.delivery_by_segment('dd_events', 'device', 'seq', 'sdk') t)::text
       = (SELECT array_agg(t ORDER BY t.segment) FROM apivalue.delivery_by_segment('dd_events_shuffled', 'device', 'seq', 'sdk') t)::text
       AS order_irrelevant;

-- One segment only, or a segment against a single other device: no test.
CREATE TABLE dd_one AS SELECT 'all' AS sdk, device, seq FROM dd_events;
SELECT segment, devices, expected, p_value, flagged
FROM apivalue.delivery_by_segment('dd_one', 'device', 'seq', 'sdk');
CREATE TABLE dd_two AS SELECT * FROM dd_events WHERE sdk IN ('lossy', 'solo');
SELECT segment, devices, round(loss_rate::numeric, 4) AS loss_rate, p_value, flagged
FROM apivalue.delivery_by_segment('dd_two', 'device', 'seq', 'sdk');
-- No loss anywhere: nothing to flag (p-value 1).
CREATE TABLE dd_clean AS SELECT * FROM dd_events WHERE sdk = 'ok' OR sdk IS NULL;
SELECT segment, loss_rate, p_value, flagged FROM apivalue.delivery_by_segment('dd_clean', 'device', 'seq', 'sdk');
-- An empty table: no rows.
CREATE TABLE dd_events_empty (LIKE dd_events);
SELECT count(*) AS segments FROM apivalue.delivery_by_segment('dd_events_empty', 'device', 'seq', 'sdk');

-- ---- bad input ----
SELECT * FROM apivalue.delivery_by_segment('dd_events', 'nope', 'seq', 'sdk');
SELECT * FROM apivalue.delivery_by_segment('dd_events', 'device', 'note', 'sdk');
SELECT * FROM apivalue.delivery_by_segment('dd_events', 'device', 'seq', 'sdk) FROM pg_class; --');
SELECT * FROM apivalue.delivery_by_segment('dd_events', 'device', 'seq', NULL);
SELECT * FROM apivalue.delivery_by_segment(NULL, 'device', 'seq', 'sdk');

-- ---- random data against a plain-SQL reference ----
-- 8 segments with different loss rates, 1-40 devices each, 1-300 events per
-- device, duplicates, and some devices whose counter restarts.
SELECT setseed(0.31);
CREATE TABLE dd_rand AS
WITH seg AS (
  SELECT s, (ARRAY[0, 0.001, 0.01, 0.02, 0.05, 0.15, 0.3, 0.01])[s] AS loss,
         1 + floor(random() * 40)::int AS ndev
  FROM generate_series(1, 8) s
), dev AS (
  SELECT s, loss, 'd' || s || '-' || d AS device, 1 + floor(random() * 300)::int AS n,
         random() < 0.1 AS resets
  FROM seg, LATERAL generate_series(1, ndev) d
)
SELECT 'seg' || s AS segment, device, q AS seq
FROM dev, LATERAL generate_series(1, n) q
WHERE q = 1 OR q = n OR random() >= loss
UNION ALL
SELECT 'seg' || s, device, q FROM dev, LATERAL generate_series(1, n / 3) q WHERE resets
UNION ALL
SELECT 'seg' || s, device, q FROM dev, LATERAL generate_series(1, n) q WHERE random() < 0.02;
ANALYZE dd_rand;

-- Reference: expected and received per device by min/max/count(DISTINCT);
-- the clustered variance summed directly over the devices of each side.
CREATE FUNCTION dd_reference() RETURNS TABLE (k text, v text)
LANGUAGE sql STABLE AS $$
  WITH dev AS (
    SELECT segment, device, max(seq) - min(seq) + 1 AS e, count(DISTINCT seq) AS r
    FROM dd_rand GROUP BY 1, 2
  ), seg AS (
    SELECT segment, count(*) AS m, sum(r) AS r, sum(e) AS e, sum(e - r)::float8 / sum(e) AS p
    FROM dev GROUP BY 1
  ), sides AS (
    SELECT s.segment, s.m, s.r, s.e, s.p,
           (SELECT count(*) FROM dev d WHERE d.segment <> s.segment) AS m_r,
           (SELECT sum(d.e - d.r)::float8 / sum(d.e) FROM dev d WHERE d.segment <> s.segment) AS p_r
    FROM seg s
  ), var AS (
    SELECT x.*,
           x.m::float8 / (x.m - 1) * (SELECT sum(((d.e - d.r) - x.p * d.e) ^ 2) FROM dev d WHERE d.segment = x.segment)
             / (x.e::float8 ^ 2)
           + x.m_r::float8 / (x.m_r - 1) * (SELECT sum(((d.e - d.r) - x.p_r * d.e) ^ 2) FROM dev d WHERE d.segment <> x.segment)
             / ((SELECT sum(d.e) FROM dev d WHERE d.segment <> x.segment)::float8 ^ 2) AS var
    FROM sides x
  )
  SELECT segment,
         concat_ws(' ', m, r, e, round(p::numeric, 12),
                   CASE WHEN m < 2 OR m_r < 2 THEN 'untested'
                        ELSE round(apivalue._normal_upper_tail((p - p_r) / sqrt(var))::numeric, 9)::text END,
                   CASE WHEN m < 2 OR m_r < 2 THEN false
                        ELSE apivalue._normal_upper_tail((p - p_r) / sqrt(var)) < 0.01 END)
  FROM var
$$;
SELECT * FROM avtest.diff(
  $$SELECT segment AS k, concat_ws(' ', devices, received, expected, round(loss_rate::numeric, 12),
                                   coalesce(round(p_value::numeric, 9)::text, 'untested'), flagged) AS v
    FROM apivalue.delivery_by_segment('dd_rand', 'device', 'seq', 'segment')$$,
  'SELECT * FROM dd_reference()');
SELECT count(*) FILTER (WHERE flagged) AS flagged, string_agg(segment, ',' ORDER BY segment) FILTER (WHERE flagged) AS which
FROM apivalue.delivery_by_segment('dd_rand', 'device', 'seq', 'segment');

-- ---- the sample data set: exactly the lossy SDK ----
\set ECHO none
\i test/data/sample.sql
\set ECHO all
SELECT sample.generate(users => 300) > 0 AS generated;
SELECT segment, devices, received, expected, round(loss_rate::numeric, 4) AS loss_rate,
       p_value < 1e-6 AS p_below_1e_6, flagged
FROM apivalue.delivery_by_segment('sample.events', 'device_id', 'seq', 'sdk_version')
ORDER BY segment;
-- Flagged = the ground truth's lossy SDK, with its exact numbers; every
-- segment's loss = the sequence gaps recorded for its devices.
SELECT (SELECT array_agg(segment ORDER BY segment) FROM apivalue.delivery_by_segment('sample.events', 'device_id', 'seq', 'sdk_version') WHERE flagged)
       = (SELECT array_agg(key ORDER BY key) FROM sample.ground_truth WHERE fault = 'lossy_sdk') AS exactly_the_lossy_sdk,
       (SELECT (d.expected, d.received) = ((gt.detail ->> 'expected')::bigint, (gt.detail ->> 'received')::bigint)
        FROM apivalue.delivery_by_segment('sample.events', 'device_id', 'seq', 'sdk_version') d
        JOIN sample.ground_truth gt ON gt.fault = 'lossy_sdk' AND gt.key = d.segment) AS same_counts_as_ground_truth;
SELECT count(*) AS segments_whose_loss_differs_from_ground_truth
FROM apivalue.delivery_by_segment('sample.events', 'device_id', 'seq', 'sdk_version') d
LEFT JOIN (SELECT e.sdk_version, sum((gt.detail ->> 'missing_count')::bigint) AS missing
           FROM sample.ground_truth gt
           JOIN (SELECT DISTINCT device_id, sdk_version FROM sample.events) e ON e.device_id = gt.key
           WHERE gt.fault = 'sequence_gap' GROUP BY 1) g ON g.sdk_version = d.segment
WHERE d.expected - d.received <> coalesce(g.missing, 0);
-- By platform, the lossy SDK's platform stands out.
SELECT segment, flagged FROM apivalue.delivery_by_segment('sample.events', 'device_id', 'seq', 'platform');
-- Nothing on the clean subset.
SELECT count(*) FILTER (WHERE flagged) AS flagged_on_clean_subset
FROM apivalue.delivery_by_segment('sample.clean_events', 'device_id', 'seq', 'sdk_version');

DROP FUNCTION dd_reference();
DROP TABLE dd_events, dd_events_shuffled, dd_one, dd_two, dd_clean, dd_events_empty, dd_rand;
