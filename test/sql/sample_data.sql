-- The sample data set (test/data/sample.sql): its contract, its injected
-- faults and its determinism, checked with queries independent of the
-- generator's own bookkeeping.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set ECHO none
\i test/data/sample.sql
\set ECHO all

SELECT sample.generate(users => 300) AS rows_300;

-- The columns other tests rely on, in order.
SELECT column_name, data_type
FROM information_schema.columns
WHERE table_schema = 'sample' AND table_name = 'events'
ORDER BY ordinal_position;

-- Sizes: users, devices, tenants, events per kind.
SELECT count(DISTINCT user_id) FILTER (WHERE user_id <> 'canary') AS users,
       count(DISTINCT device_id) AS devices,
       count(DISTINCT tenant) AS tenants,
       count(DISTINCT event_id) AS distinct_ids,
       count(*) AS rows
FROM sample.events;
SELECT event, count(*) FROM sample.events GROUP BY event ORDER BY event;
SELECT plan_tier, api_version, count(*) FROM sample.events GROUP BY 1, 2 ORDER BY 1, 2;
SELECT fault, count(*) FROM sample.ground_truth GROUP BY fault ORDER BY fault;

-- Endpoints carry raw ids and appear exactly on calls; statuses by class.
SELECT event, count(*) FILTER (WHERE endpoint IS NULL) AS no_endpoint,
       count(*) FILTER (WHERE endpoint IS NOT NULL) AS endpoint,
       count(*) FILTER (WHERE endpoint ~ '^(GET|POST|PUT|DELETE) /v[12]/') AS well_formed
FROM sample.events GROUP BY event ORDER BY event;
SELECT count(*) FILTER (WHERE status / 100 = 2) > 0 AS has_2xx,
       count(*) FILTER (WHERE status / 100 = 4) > 0 AS has_4xx,
       count(*) FILTER (WHERE status / 100 = 5) > 0 AS has_5xx,
       bool_and(latency_ms > 0) AS positive_latency,
       bool_and(api_version = substr(endpoint, strpos(endpoint, '/') + 1, 2)) AS version_in_path
FROM sample.events WHERE event IN ('api_call', 'first_call');
SELECT bool_and(status = 200) AS first_call_succeeds FROM sample.events WHERE event = 'first_call';

-- Clock skew: devices whose sent_at - received_at exceeds 10 s are exactly
-- the recorded ones, with the recorded offset (network delay < 3 s); every
-- other device sent before the server received, within 3 s.
WITH d AS (
  SELECT device_id, min(extract(epoch FROM sent_at - received_at)) AS lo,
         max(extract(epoch FROM sent_at - received_at)) AS hi
  FROM sample.events GROUP BY device_id
)
SELECT count(*) FILTER (WHERE g.key IS NOT NULL AND d.lo > (g.detail->>'offset_seconds')::float8 - 3
                          AND d.hi < (g.detail->>'offset_seconds')::float8) AS skewed_as_recorded,
       count(*) FILTER (WHERE g.key IS NULL AND d.lo >= -3 AND d.hi < 0) AS correct_clocks,
       count(*) AS devices
FROM d LEFT JOIN sample.ground_truth g ON g.fault = 'clock_skew' AND g.key = d.device_id;
SELECT (detail->>'offset_seconds')::bigint AS offset_seconds FROM sample.ground_truth
WHERE fault = 'clock_skew' ORDER BY 1;
-- a skewed device belongs to a user with no other device
SELECT count(*) AS skewed_users_with_other_devices
FROM sample.ground_truth g JOIN sample.events e ON e.user_id = g.detail->>'user_id'
WHERE g.fault = 'clock_skew' AND e.device_id <> g.key;

-- Exact duplicates: ids delivered more than once are exactly the recorded
-- ones, twice each, every copy identical in every column.
WITH d AS (
  SELECT event_id, count(*) AS copies, count(DISTINCT e::text) AS variants
  FROM sample.events e GROUP BY event_id HAVING count(*) > 1
)
SELECT count(*) AS duplicated_ids, max(copies) AS max_copies, max(variants) AS max_variants,
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'exact_duplicate') AS recorded,
       count(*) FILTER (WHERE event_id NOT IN (SELECT key FROM sample.ground_truth WHERE fault = 'exact_duplicate')) AS unrecorded
FROM d;

-- Near duplicates: every recorded copy repeats its original (same user,
-- device, event, endpoint, payload) 0.3-2.5 s later under a new id.
SELECT count(*) AS recorded,
       count(*) FILTER (WHERE c.user_id = o.user_id AND c.device_id = o.device_id AND c.event = o.event
                          AND c.endpoint IS NOT DISTINCT FROM o.endpoint AND c.payload = o.payload
                          AND c.event_id <> o.event_id
                          AND c.ts - o.ts BETWEEN interval '0.3 s' AND interval '2.5 s') AS as_described
FROM sample.ground_truth g
JOIN (SELECT DISTINCT ON (event_id) * FROM sample.events ORDER BY event_id) c ON c.event_id = g.key
JOIN (SELECT DISTINCT ON (event_id) * FROM sample.events ORDER BY event_id) o ON o.event_id = g.detail->>'original'
WHERE g.fault = 'near_duplicate';
-- Over distinct ids, pairs of one user's events of one type at most 5 s
-- apart are exactly the recorded near duplicates (whatever the payload).
WITH e AS (SELECT DISTINCT ON (event_id) * FROM sample.events ORDER BY event_id),
p AS (
  SELECT event_id, ts - lag(ts) OVER w AS gap, lag(event_id) OVER w AS prev_id
  FROM e WINDOW w AS (PARTITION BY user_id, event ORDER BY ts, event_id)
), close AS (SELECT event_id, prev_id FROM p WHERE gap <= interval '5 s')
SELECT (SELECT count(*) FROM close) AS close_pairs,
       (SELECT count(*) FROM (SELECT event_id, prev_id FROM close
                              EXCEPT SELECT key, detail->>'original' FROM sample.ground_truth
                                     WHERE fault = 'near_duplicate') x) AS unrecorded,
       (SELECT count(*) FROM (SELECT key, detail->>'original' FROM sample.ground_truth
                              WHERE fault = 'near_duplicate'
                              EXCEPT SELECT event_id, prev_id FROM close) x) AS missed;

-- Sequences: per device the numbers present plus the recorded missing
-- ranges are exactly 1..max; seq follows the device clock.
WITH present AS (SELECT DISTINCT device_id, seq FROM sample.events),
bounds AS (SELECT device_id, min(seq) AS lo, max(seq) AS hi FROM present GROUP BY device_id),
missing AS (
  SELECT b.device_id, n AS seq FROM bounds b, generate_series(b.lo, b.hi) n
  EXCEPT SELECT device_id, seq FROM present
), recorded AS (
  SELECT g.key AS device_id, n AS seq
  FROM sample.ground_truth g, jsonb_array_elements(g.detail->'missing') r,
       generate_series((r->>0)::bigint, (r->>1)::bigint) n
  WHERE g.fault = 'sequence_gap'
)
SELECT (SELECT count(*) FROM bounds WHERE lo <> 1) AS devices_not_from_1,
       (SELECT count(*) FROM missing) AS missing_numbers,
       (SELECT count(*) FROM (SELECT * FROM missing EXCEPT SELECT * FROM recorded) x) AS unrecorded,
       (SELECT count(*) FROM (SELECT * FROM recorded EXCEPT SELECT * FROM missing) x) AS missed,
       (SELECT sum((detail->>'missing_count')::bigint) FROM sample.ground_truth WHERE fault = 'sequence_gap') AS recorded_count;
SELECT detail->>'cause' AS cause, count(*) AS devices, sum((detail->>'missing_count')::int) AS missing
FROM sample.ground_truth WHERE fault = 'sequence_gap' GROUP BY 1 ORDER BY 1;
SELECT count(*) AS seq_against_clock
FROM (SELECT device_id, ts, lag(ts) OVER (PARTITION BY device_id ORDER BY seq, event_id) AS prev_ts
      FROM sample.events) x
WHERE ts < prev_ts;

-- Loss per SDK from sequence ranges: only the recorded one loses > 1%.
WITH d AS (
  SELECT sdk_version, device_id, max(seq) - min(seq) + 1 AS expected, count(DISTINCT seq) AS received
  FROM sample.events GROUP BY 1, 2
), s AS (
  SELECT sdk_version, 1 - sum(received)::float8 / sum(expected) AS loss FROM d GROUP BY 1
)
SELECT sdk_version, loss > 0.10 AS lossy, loss < 0.01 AS healthy,
       sdk_version IN (SELECT key FROM sample.ground_truth WHERE fault = 'lossy_sdk') AS recorded
FROM s ORDER BY sdk_version;

-- Dead period: nothing inside it in any clock; it is the only gap of
-- received_at longer than 65 minutes.
SELECT count(*) AS events_inside
FROM sample.events e, sample.ground_truth g
WHERE g.fault = 'dead_period'
  AND (e.ts >= (g.detail->>'from')::timestamptz AND e.ts < (g.detail->>'to')::timestamptz
       OR e.received_at >= (g.detail->>'from')::timestamptz AND e.received_at < (g.detail->>'to')::timestamptz);
WITH r AS (SELECT received_at, lag(received_at) OVER (ORDER BY received_at) AS prev FROM sample.events)
SELECT r.prev = (g.detail->>'received_gap_from')::timestamptz AS gap_from_ok,
       r.received_at = (g.detail->>'received_gap_to')::timestamptz AS gap_to_ok,
       r.received_at - r.prev > interval '3 hours' AS longer_than_3h
FROM r, sample.ground_truth g
WHERE g.fault = 'dead_period' AND r.received_at - r.prev > interval '65 minutes';

-- Schema drift: one key set per (event, api_version); api_call v2 differs
-- from v1 exactly as recorded.
WITH k AS (
  SELECT event, api_version, payload,
         (SELECT string_agg(key || ':' || jsonb_typeof(value), ',' ORDER BY key) FROM jsonb_each(payload)) AS shape
  FROM sample.events
)
SELECT event, api_version, count(DISTINCT shape) AS shapes, min(shape) AS shape
FROM k GROUP BY 1, 2 ORDER BY 1, 2;

-- Canaries: one per 5 minutes except the missing hour and the dead period;
-- the late burst is the only canary received more than an hour late.
WITH slots AS (
  SELECT s FROM generate_series(timestamptz '2026-01-05 00:00+00', timestamptz '2026-03-30 00:00+00' - interval '5 minutes',
                                interval '5 minutes') s
), c AS (SELECT DISTINCT ts FROM sample.events WHERE event = 'canary')
SELECT count(*) FILTER (WHERE c.ts IS NULL) AS missing_slots,
       count(*) FILTER (WHERE c.ts IS NULL AND s >= (m.detail->>'from')::timestamptz AND s < (m.detail->>'to')::timestamptz) AS in_missing_hour,
       count(*) FILTER (WHERE c.ts IS NULL AND s >= (d.detail->>'from')::timestamptz AND s < (d.detail->>'to')::timestamptz) AS in_dead_period
FROM slots LEFT JOIN c ON c.ts = slots.s
CROSS JOIN (SELECT detail FROM sample.ground_truth WHERE fault = 'canary' AND key = 'missing_hour') m
CROSS JOIN (SELECT detail FROM sample.ground_truth WHERE fault = 'canary' AND key = 'dead_period') d;
SELECT count(*) AS late,
       bool_and(e.ts >= (g.detail->>'from')::timestamptz AND e.ts < (g.detail->>'to')::timestamptz) AS in_burst,
       min(e.received_at - e.ts) >= interval '3 hours' AS three_hours_late
FROM sample.events e, sample.ground_truth g
WHERE g.fault = 'canary' AND g.key = 'late_burst' AND e.event = 'canary' AND e.received_at - e.ts > interval '1 hour';

-- Experiments: split per first exposure; contaminated users are those
-- exposed to both variants; the recorded realized numbers agree with an
-- independent count.
WITH x AS (
  SELECT user_id, payload->>'experiment' AS experiment, payload->>'variant' AS variant, ts,
         row_number() OVER (PARTITION BY user_id, payload->>'experiment' ORDER BY ts) AS n
  FROM sample.events WHERE event = 'experiment_exposure'
)
SELECT experiment, variant, count(*) AS first_exposures
FROM x WHERE n = 1 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT (SELECT array_agg(user_id ORDER BY user_id) FROM (
          SELECT user_id FROM sample.events WHERE event = 'experiment_exposure'
          GROUP BY user_id, payload->>'experiment' HAVING count(DISTINCT payload->>'variant') > 1) x)
     = (SELECT array_agg(key ORDER BY key) FROM sample.ground_truth WHERE fault = 'experiment_contamination')
       AS contamination_recorded;
WITH f AS (
  SELECT user_id, payload->>'experiment' AS experiment, min(ts) AS at,
         min(payload->>'variant') AS variant
  FROM sample.events WHERE event = 'experiment_exposure'
  GROUP BY 1, 2 HAVING count(DISTINCT payload->>'variant') = 1
), conv AS (
  SELECT DISTINCT f.user_id, f.experiment
  FROM f JOIN sample.events o
    ON o.user_id = f.user_id
   AND o.event = CASE f.experiment WHEN 'onboarding_v2' THEN 'first_call' ELSE 'upgrade' END
   AND o.ts BETWEEN f.at AND f.at + interval '14 days'
), c AS (
  SELECT f.experiment, f.variant, count(*) AS users, count(conv.user_id) AS converted
  FROM f LEFT JOIN conv USING (user_id, experiment) GROUP BY 1, 2
)
SELECT c.experiment, c.variant, c.users, c.converted,
       c.users = (g.detail->'users'->>c.variant)::bigint
       AND c.converted = (g.detail->'converted'->>c.variant)::bigint AS recorded
FROM c JOIN sample.ground_truth g ON g.fault = 'experiment' AND g.key = c.experiment
ORDER BY 1, 2;

-- Journeys: every step follows the previous one for each user.
WITH u AS (
  SELECT user_id,
         min(ts) FILTER (WHERE event = 'signup') AS signup,
         min(ts) FILTER (WHERE event = 'create_key') AS key,
         min(ts) FILTER (WHERE event = 'first_call') AS first_call,
         min(ts) FILTER (WHERE event = 'api_call') AS api_call,
         min(ts) FILTER (WHERE event = 'upgrade') AS upgrade
  FROM sample.events WHERE user_id <> 'canary' GROUP BY user_id
)
SELECT count(*) AS users, count(signup) AS signed_up, count(key) AS created_key,
       count(first_call) AS first_call, count(api_call) AS api_call, count(upgrade) AS upgraded,
       count(*) FILTER (WHERE key < signup OR first_call < key OR api_call < first_call OR upgrade < first_call) AS out_of_order
FROM u;

-- The clean subset: none of the removable faults remain.
SELECT count(*) AS clean_rows,
       count(*) - count(DISTINCT event_id) AS duplicate_ids,
       count(*) FILTER (WHERE device_id IN (SELECT key FROM sample.ground_truth WHERE fault IN ('clock_skew', 'sequence_gap'))) AS faulty_devices,
       count(*) FILTER (WHERE event = 'canary') AS canaries,
       count(*) FILTER (WHERE payload ? 'trace_id') AS drifted
FROM sample.clean_events;
WITH p AS (
  SELECT ts - lag(ts) OVER (PARTITION BY user_id, event ORDER BY ts, event_id) AS gap FROM sample.clean_events
)
SELECT count(*) FILTER (WHERE gap <= interval '5 s') AS clean_close_pairs FROM p;

-- Determinism: the same arguments give the same rows.
CREATE TEMP TABLE sample_digest AS
SELECT md5(string_agg(e::text, E'\n' ORDER BY e::text)) AS events,
       (SELECT md5(string_agg(g::text, E'\n' ORDER BY g::text)) FROM sample.ground_truth g) AS truth
FROM sample.events e;
SELECT sample.generate(users => 300) AS rows_again;
SELECT d.events = (SELECT md5(string_agg(e::text, E'\n' ORDER BY e::text)) FROM sample.events e) AS same_events,
       d.truth = (SELECT md5(string_agg(g::text, E'\n' ORDER BY g::text)) FROM sample.ground_truth g) AS same_truth,
       d.events AS events_md5
FROM sample_digest d;

-- Bad arguments.
\set VERBOSITY terse
SELECT sample.generate(users => 0);
SELECT sample.generate(start_at => 'infinity');
\set VERBOSITY default
DROP TABLE sample_digest;
SET client_min_messages = warning;
DROP SCHEMA sample CASCADE;
RESET client_min_messages;
