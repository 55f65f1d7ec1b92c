-- Quality aggregate states during aggregation: hash and sorted aggregation
-- over many groups agree with each other and with plain SQL; a transition
-- value written out by the type's output function (what Citus does with a
-- partial aggregate) reads back as the same summary; window and shared
-- transition states are finalized more than once without changing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET timezone = 'UTC';
CREATE SCHEMA qstate;

-- 1500 devices of 1 to 120 events, shuffled, with holes and duplicates.
CREATE TABLE qstate.ev AS
SELECT d AS device_id, d % 7 AS tenant,
       CASE WHEN (d * 31 + k) % 17 = 0 THEN NULL ELSE k + (d % 3) * (k / 40) END::bigint AS seq,
       timestamptz '2024-03-01' + (d * interval '1 minute') + (k * k * interval '7 seconds') AS ts,
       timestamptz '2024-03-01' + (d * interval '1 minute') + (k * k * interval '7 seconds')
         + ((d % 5) * interval '1 minute') AS sent_at,
       timestamptz '2024-03-01' + (d * interval '1 minute') + (k * k * interval '7 seconds')
         + ((k % 4) * interval '1 second') AS received_at,
       md5(((d * k) % 11)::text) AS fp
FROM generate_series(1, 1500) d, generate_series(1, 1 + (d * 37) % 120) k
ORDER BY md5(d::text || k::text);
ANALYZE qstate.ev;

CREATE FUNCTION qstate.results() RETURNS TABLE (k text, v text) LANGUAGE sql AS $$
  SELECT 'seq ' || device_id,
         concat_ws(' ', apivalue.sequence_gap_count(seq), apivalue.missing_sequence_ranges(seq),
                   apivalue.row_count(apivalue.sequence_summary(seq)),
                   apivalue.dead_time(ts, interval '10 minutes'),
                   apivalue.gap_ranges(apivalue.dead_time_summary(ts, interval '10 minutes')),
                   apivalue.median_offset(apivalue.clock_skew_summary(ts, sent_at, received_at)),
                   apivalue.out_of_order_count(apivalue.clock_skew_summary(ts, sent_at, received_at)),
                   apivalue.near_duplicate_count(fp, ts, interval '30 minutes'))
  FROM qstate.ev GROUP BY device_id
  UNION ALL
  SELECT 'tenant ' || tenant,
         concat_ws(' ', apivalue.sequence_gap_count(seq),
                   apivalue.event_count(apivalue.clock_skew_summary(ts, sent_at, received_at)),
                   apivalue.near_duplicate_count(fp, ts, interval '30 minutes'))
  FROM qstate.ev GROUP BY tenant
$$;

-- Hash aggregation, then sorted aggregation: the same answers.
SET enable_sort = off;
CREATE TABLE qstate.hashed AS SELECT * FROM qstate.results();
RESET enable_sort;
SET enable_hashagg = off;
CREATE TABLE qstate.sorted AS SELECT * FROM qstate.results();
RESET enable_hashagg;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE h.v IS DISTINCT FROM s.v) AS mismatches
FROM qstate.hashed h FULL JOIN qstate.sorted s USING (k);

-- Against plain SQL: missing sequence numbers and near duplicates per device.
SELECT count(*) AS compared,
       count(*) FILTER (WHERE a.missing IS DISTINCT FROM r.missing
                           OR a.dups IS DISTINCT FROM r.dups) AS mismatches
FROM (SELECT device_id, apivalue.sequence_gap_count(seq) AS missing,
             apivalue.near_duplicate_count(fp, ts, interval '30 minutes') AS dups
      FROM qstate.ev GROUP BY device_id) a
FULL JOIN (
  SELECT device_id,
         coalesce(max(seq) - min(seq) + 1 - count(DISTINCT seq), 0) AS missing,
         count(*) FILTER (WHERE d <= interval '30 minutes') AS dups
  FROM (SELECT device_id, seq, ts - lag(ts) OVER (PARTITION BY device_id, fp ORDER BY ts) AS d
        FROM qstate.ev) e
  GROUP BY device_id) r USING (device_id);

-- A transition value without its final function, as Citus ships a partial
-- aggregate: written out and read back, it is the summary.
CREATE AGGREGATE qstate.seq_partial(bigint) (
  SFUNC = apivalue._sequence_summary_accum, STYPE = apivalue.sequence_summary);
CREATE AGGREGATE qstate.dead_partial(timestamptz, interval) (
  SFUNC = apivalue._dead_time_summary_accum, STYPE = apivalue.dead_time_summary);
CREATE AGGREGATE qstate.skew_partial(timestamptz, timestamptz, timestamptz) (
  SFUNC = apivalue._clock_skew_summary_accum, STYPE = apivalue.clock_skew_summary);
CREATE AGGREGATE qstate.dup_partial(text, timestamptz, interval) (
  SFUNC = apivalue._near_duplicate_accum, STYPE = apivalue.near_duplicate_state);
SELECT count(*) AS compared,
       count(*) FILTER (WHERE
         sp::text::apivalue.sequence_summary::text IS DISTINCT FROM sf::text
         OR apivalue.sequence_summary_send(sp) IS DISTINCT FROM apivalue.sequence_summary_send(sf)
         OR dp::text::apivalue.dead_time_summary::text IS DISTINCT FROM df::text
         OR apivalue.median_offset(kp::text::apivalue.clock_skew_summary) IS DISTINCT FROM apivalue.median_offset(kf)
         OR apivalue.out_of_order_count(kp::text::apivalue.clock_skew_summary) IS DISTINCT FROM apivalue.out_of_order_count(kf)
         OR apivalue._near_duplicate_final(up::text::apivalue.near_duplicate_state) IS DISTINCT FROM uf
       ) AS mismatches
FROM (SELECT device_id,
             qstate.seq_partial(seq) AS sp, apivalue.sequence_summary(seq) AS sf,
             qstate.dead_partial(ts, interval '10 minutes') AS dp,
             apivalue.dead_time_summary(ts, interval '10 minutes') AS df,
             qstate.skew_partial(ts, sent_at, received_at) AS kp,
             apivalue.clock_skew_summary(ts, sent_at, received_at) AS kf,
             qstate.dup_partial(fp, ts, interval '30 minutes') AS up,
             apivalue.near_duplicate_count(fp, ts, interval '30 minutes') AS uf
      FROM qstate.ev GROUP BY device_id) q;

-- Running (window) aggregates finalize the same state after every row.
SELECT count(*) AS compared,
       count(*) FILTER (WHERE w.missing IS DISTINCT FROM w.reference) AS mismatches
FROM (SELECT device_id, ts,
             apivalue.sequence_gap_count(seq) OVER running AS missing,
             coalesce(max(seq) OVER running - min(seq) OVER running + 1
                      - sum(first) OVER running, 0) AS reference
      FROM (SELECT *, (seq IS NOT NULL AND row_number() OVER (PARTITION BY device_id, seq ORDER BY ts) = 1)::int AS first
            FROM qstate.ev WHERE device_id <= 40) e
      WINDOW running AS (PARTITION BY device_id ORDER BY ts)) w;

DROP SCHEMA qstate CASCADE;
