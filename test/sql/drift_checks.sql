-- Check kinds schema_drift and delivery_bias: validation, runs recorded in
-- quality_results with the offending keys and segments, on the sample data
-- set (and nothing on its clean subset).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET timezone = 'UTC';
\set ECHO none
\i test/data/sample.sql
\set ECHO all
SELECT sample.generate(users => 300) > 0 AS generated;

SELECT kind, observed, validator IS NOT NULL AS has_validator
FROM apivalue.quality_check_kinds WHERE kind IN ('schema_drift', 'delivery_bias') ORDER BY kind;

-- Validation when the check is created.
SELECT apivalue.add_quality_check('bad', 'sample.events', 'schema_drift',
  '{"payload_column": "event", "time_column": "received_at"}');
SELECT apivalue.add_quality_check('bad', 'sample.events', 'schema_drift',
  '{"payload_column": "payload", "time_column": "received_at", "min_change": 2}');
SELECT apivalue.add_quality_check('bad', 'sample.events', 'schema_drift',
  '{"payload_column": "payload", "time_column": "received_at", "window": "0 days"}');
SELECT apivalue.add_quality_check('bad', 'sample.events', 'delivery_bias',
  '{"device_column": "device_id", "seq_column": "seq", "segment_column": "sdk_version", "window": "7 days"}');
SELECT apivalue.add_quality_check('bad', 'sample.events', 'delivery_bias',
  '{"device_column": "device_id", "seq_column": "ts", "segment_column": "sdk_version"}');

-- The trailing 56 days (from the newest arrival, day 84) against the 28
-- days before them: the v2 release falls between them.
SELECT name, kind, parameters FROM apivalue.add_quality_check('payload drift', 'sample.events', 'schema_drift',
  '{"payload_column": "payload", "time_column": "received_at", "group_column": "event",
    "window": "56 days", "baseline": "28 days"}');
SELECT name, kind, parameters FROM apivalue.add_quality_check('sdk loss', 'sample.events', 'delivery_bias',
  '{"device_column": "device_id", "seq_column": "seq", "segment_column": "sdk_version"}');
SELECT name, kind, parameters FROM apivalue.add_quality_check('sdk loss last 4 weeks', 'sample.events', 'delivery_bias',
  '{"device_column": "device_id", "seq_column": "seq", "segment_column": "sdk_version",
    "time_column": "received_at", "window": "28 days"}');
SELECT name FROM apivalue.add_quality_check('clean payload drift', 'sample.clean_events', 'schema_drift',
  '{"payload_column": "payload", "time_column": "received_at", "group_column": "event",
    "window": "56 days", "baseline": "28 days"}');
SELECT name FROM apivalue.add_quality_check('clean sdk loss', 'sample.clean_events', 'delivery_bias',
  '{"device_column": "device_id", "seq_column": "seq", "segment_column": "sdk_version"}');
SELECT name, enabled FROM apivalue.add_quality_check('drift, no rows', 'sample.events', 'schema_drift',
  '{"payload_column": "payload", "time_column": "received_at"}', enabled => false);

SELECT check_name, status, observed FROM apivalue.run_quality_checks() ORDER BY check_name;

-- The offending keys and segments are in details.
SELECT r.check_name, k ->> 'group_value' AS group_value, k ->> 'key_path' AS key_path, k ->> 'change' AS change
FROM apivalue.quality_results r, jsonb_array_elements(r.details -> 'keys') k
WHERE r.check_name = 'payload drift'
ORDER BY 1, 2, 3;
SELECT (details ->> 'split_at')::timestamptz = (details ->> 'newest')::timestamptz - interval '56 days' AS split_is_window_before_newest,
       (details ->> 'since')::timestamptz = (details ->> 'split_at')::timestamptz - interval '28 days' AS baseline_before_split,
       jsonb_array_length(details -> 'changes') AS changes, jsonb_array_length(sample) AS sample_items
FROM apivalue.quality_results WHERE check_name = 'payload drift';
SELECT r.check_name, f ->> 'segment' AS segment, (f ->> 'flagged')::boolean AS flagged,
       (f ->> 'expected')::bigint AS expected, (f ->> 'received')::bigint AS received
FROM apivalue.quality_results r, jsonb_array_elements(r.details -> 'flagged') f
WHERE r.check_name LIKE 'sdk loss%'
ORDER BY 1, 2;
SELECT check_name, details ? 'since' AS windowed, jsonb_array_length(details -> 'segments') AS segments,
       (SELECT count(*) FROM jsonb_array_elements(sample) e WHERE e ->> 'sdk_version' = 'android-3.8.0') AS sample_rows_of_lossy_sdk
FROM apivalue.quality_results WHERE check_name LIKE 'sdk loss%' ORDER BY 1;

-- A relation with no rows: nothing observed, pass.
CREATE TABLE dchk_empty (LIKE sample.events);
UPDATE apivalue.quality_checks SET relation = 'dchk_empty' WHERE name = 'drift, no rows';
SELECT check_name, status, observed, details ->> 'changes_found' AS changes_found
FROM apivalue.run_quality_checks('drift, no rows');

-- A check whose column was dropped errors without stopping the others.
ALTER TABLE dchk_empty DROP COLUMN payload;
SELECT check_name, status, details ->> 'sqlstate' AS sqlstate FROM apivalue.run_quality_checks('drift, no rows');

SELECT apivalue.drop_quality_check(name, keep_results => false)
FROM apivalue.quality_checks WHERE kind IN ('schema_drift', 'delivery_bias') ORDER BY name;
DROP TABLE dchk_empty;
