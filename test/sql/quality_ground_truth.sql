-- The quality detectors on the sample data set find exactly the faults the
-- generator injected (sample.ground_truth): no miss, no false alarm; and on
-- the clean subset (sample.clean_events) they find nothing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET timezone = 'UTC';
\set ECHO none
\i test/data/sample.sql
\set ECHO all
SELECT sample.generate(users => 300, seed => 11) > 0 AS generated;

-- clock skew: the skewed devices, exactly
WITH found AS (SELECT device FROM apivalue.skewed_devices('sample.events', 'device_id', 'ts', 'sent_at', 'received_at', '5 minutes')),
     truth AS (SELECT key AS device FROM sample.ground_truth WHERE fault = 'clock_skew')
SELECT (SELECT count(*) FROM truth) AS injected,
       (SELECT count(*) FROM found) AS found,
       (SELECT count(*) FROM truth WHERE device NOT IN (SELECT device FROM found)) AS missed,
       (SELECT count(*) FROM found WHERE device NOT IN (SELECT device FROM truth)) AS false_alarms;

-- exact duplicates: the repeated event ids, exactly
WITH found AS (SELECT key_value FROM apivalue.duplicate_keys('sample.events', 'event_id', 'received_at')),
     truth AS (SELECT key FROM sample.ground_truth WHERE fault = 'exact_duplicate')
SELECT (SELECT count(*) FROM truth) > 0 AS some_injected,
       (SELECT count(*) FROM truth WHERE key NOT IN (SELECT key_value FROM found)) AS missed,
       (SELECT count(*) FROM found WHERE key_value NOT IN (SELECT key FROM truth)) AS false_alarms;

-- near duplicates: one extra event per injected re-send (exact copies removed
-- first, since an exact copy also repeats its fingerprint)
SELECT (SELECT count(*) FROM sample.ground_truth WHERE fault = 'near_duplicate') AS injected,
       apivalue.near_duplicate_count(concat_ws('|', user_id, event, endpoint, payload::text), ts, '5 seconds') AS found
FROM (SELECT DISTINCT ON (event_id) * FROM sample.events ORDER BY event_id) e;

-- sequence gaps: the gapped devices and their missing numbers, exactly
WITH found AS (SELECT device, missing_ranges FROM apivalue.device_sequence_gaps('sample.events', 'device_id', 'seq')),
     truth AS (SELECT key AS device, detail FROM sample.ground_truth WHERE fault = 'sequence_gap')
SELECT (SELECT count(*) FROM truth) AS injected,
       (SELECT count(*) FROM found) AS found,
       (SELECT count(*) FROM truth WHERE device NOT IN (SELECT device FROM found)) AS missed,
       (SELECT count(*) FROM found WHERE device NOT IN (SELECT device FROM truth)) AS false_alarms;

-- the dead period, on the server clock
SELECT count(*) AS dead_periods_found,
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'dead_period') AS injected
FROM apivalue.dead_periods('sample.events', 'received_at', '90 minutes');

-- the clean subset: nothing.  (Sequence gaps are not checked there: the view
-- also drops drifted payloads and canaries, which punches holes of its own
-- into device sequences; the false-alarm count above covers gaps.)
SELECT (SELECT count(*) FROM apivalue.skewed_devices('sample.clean_events', 'device_id', 'ts', 'sent_at', 'received_at', '5 minutes')) AS skewed,
       (SELECT count(*) FROM apivalue.duplicate_keys('sample.clean_events', 'event_id', 'received_at')) AS duplicated_ids,
       (SELECT apivalue.near_duplicate_count(concat_ws('|', user_id, event, endpoint, payload::text), ts, '5 seconds')
          FROM sample.clean_events) AS near_duplicates;
