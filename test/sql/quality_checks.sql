-- Checks as data: kinds, validation at creation, runs, history, status,
-- error isolation, scheduling without pg_cron; null rates and volume.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET timezone = 'UTC';

CREATE TABLE qc_ev (event_id bigint, device text, seq bigint, event text, ts timestamptz,
                    sent_at timestamptz, received_at timestamptz);
-- Device d1 healthy; d2 clock 2 hours ahead and loses seq 3..4; event 5 sent twice.
INSERT INTO qc_ev
SELECT i, 'd' || (1 + i % 2), i / 2, CASE WHEN i % 7 = 0 THEN NULL ELSE 'call' END,
       timestamptz '2024-01-01' + i * interval '10 minutes',
       timestamptz '2024-01-01' + i * interval '10 minutes' + CASE WHEN i % 2 = 1 THEN interval '2 hours' ELSE interval '0' END,
       timestamptz '2024-01-01' + i * interval '10 minutes' + interval '1 second'
FROM generate_series(1, 40) i WHERE NOT (i % 2 = 1 AND i / 2 IN (3, 4));
INSERT INTO qc_ev SELECT * FROM qc_ev WHERE event_id = 5;
-- A silence: everything after 04:00 arrives 3 hours later (04:00 -> 07:10).
UPDATE qc_ev SET ts = ts + interval '3 hours', sent_at = sent_at + interval '3 hours',
                 received_at = received_at + interval '3 hours'
WHERE ts > '2024-01-01 04:00';

SELECT kind, observed FROM apivalue.quality_check_kinds ORDER BY kind;

-- Registration, with defaults filled in.
SELECT name, kind, parameters, warn_threshold, fail_threshold
FROM apivalue.add_quality_check('skew', 'qc_ev', 'clock_skew',
  '{"device_column": "device", "client_ts_column": "ts", "sent_at_column": "sent_at", "received_at_column": "received_at"}');
SELECT name, parameters FROM apivalue.add_quality_check('dups', 'qc_ev', 'exact_duplicate',
  '{"key": "event_id", "time_column": "ts"}', warn_threshold => 0, fail_threshold => 5);
SELECT name FROM apivalue.add_quality_check('near', 'qc_ev', 'near_duplicate',
  '{"key": "device || event", "time_column": "ts", "tolerance": "15 minutes"}', fail_threshold => 100);
SELECT name FROM apivalue.add_quality_check('seq', 'qc_ev', 'sequence_gap',
  '{"device_column": "device", "seq_column": "seq"}');
SELECT name, parameters FROM apivalue.add_quality_check('dead', 'qc_ev', 'dead_time',
  '{"time_column": "ts", "max_gap": "1 hour"}');
SELECT name FROM apivalue.add_quality_check('nulls', 'qc_ev', 'null_rate',
  '{"columns": ["event", "device"]}', warn_threshold => 0.1, fail_threshold => 0.5);
SELECT name, parameters FROM apivalue.add_quality_check('volume', 'qc_ev', 'volume_anomaly',
  '{"time_column": "ts", "bucket": "1 hour", "baseline_buckets": 3}');
SELECT name FROM apivalue.add_quality_check('fresh', 'qc_ev', 'freshness', '{"time_column": "ts"}',
  warn_threshold => 86400, fail_threshold => 864000000);

-- Bad checks fail at creation, with clear errors.
SELECT apivalue.add_quality_check('x', 'qc_ev', 'no_such_kind');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'sequence_gap', '{"device_column": "device"}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'sequence_gap', '{"device_column": "nope", "seq_column": "seq"}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'sequence_gap', '{"device_column": "device", "seq_column": "event"}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'sequence_gap', '{"device_column": "device", "seq_column": "seq", "colour": "red"}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'dead_time', '{"time_column": "ts", "max_gap": "soon"}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'dead_time', '{"time_column": "ts", "max_gap": "-1 hour"}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'near_duplicate', '{"key": "1; DROP TABLE qc_ev", "time_column": "ts", "tolerance": "1 s"}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'null_rate', '{"columns": []}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'null_rate', '{"columns": ["event"]}', fail_threshold => 1.5);
SELECT apivalue.add_quality_check('x', 'qc_ev', 'freshness', '{"time_column": "ts"}', fail_threshold => -1);
SELECT apivalue.add_quality_check('x', 'qc_ev', 'freshness', '{"time_column": "ts"}', fail_threshold => 'NaN');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'freshness', '{"time_column": "ts"}', warn_threshold => 10, fail_threshold => 5);
SELECT apivalue.add_quality_check('x', 'qc_ev', 'freshness', '{"time_column": "ts"}', fail_threshold => NULL);
SELECT apivalue.add_quality_check('x', 'qc_ev', 'volume_anomaly', '{"time_column": "ts", "baseline_buckets": 2}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'volume_anomaly', '{"time_column": "ts", "sensitivity": "high"}');
SELECT apivalue.add_quality_check('x', 'qc_ev', 'freshness', '[1]');
SELECT apivalue.add_quality_check('skew', 'qc_ev', 'freshness', '{"time_column": "ts"}');
SELECT apivalue.add_quality_check('x', 'no_such_table', 'freshness', '{"time_column": "ts"}');
SELECT count(*) AS checks FROM apivalue.quality_checks;

-- A check that will error at run time (its column is dropped afterwards).
CREATE TABLE qc_other (ts timestamptz, extra int);
SELECT name FROM apivalue.add_quality_check('broken', 'qc_other', 'null_rate', '{"columns": ["extra"]}');
ALTER TABLE qc_other DROP COLUMN extra;

-- Run all: every check gets a row; the broken one is 'error' and the others
-- are unaffected.
SELECT check_name, status,
       CASE WHEN check_name = 'fresh' THEN (observed > 86400)::int ELSE observed END AS observed,
       warn_threshold, fail_threshold, details->>'error' AS error, jsonb_array_length(sample) AS sample_rows
FROM apivalue.run_quality_checks() ORDER BY check_name;
SELECT details - 'devices' AS details, details->'devices'->0->>'device' AS device,
       details->'devices'->0->>'median_offset' AS median_offset
FROM apivalue.quality_results WHERE check_name = 'skew';
SELECT details->'devices' AS devices FROM apivalue.quality_results WHERE check_name = 'seq';
SELECT sample->0->>'seq' AS seq_before_hole, sample->0->>'device' AS device FROM apivalue.quality_results WHERE check_name = 'seq';
SELECT details->'periods' AS periods, details->>'dead_time' AS dead FROM apivalue.quality_results WHERE check_name = 'dead';
SELECT details->'columns' AS columns FROM apivalue.quality_results WHERE check_name = 'nulls';
SELECT jsonb_path_query_array(details, '$.buckets[*].bucket_start') AS anomalous FROM apivalue.quality_results WHERE check_name = 'volume';

-- Run one by name (even when disabled); history accumulates; the status
-- view shows the latest run per check.
UPDATE apivalue.quality_checks SET enabled = false WHERE name = 'dups';
SELECT check_name, status FROM apivalue.run_quality_checks('dups');
SELECT count(*) AS dups_runs, count(DISTINCT run_id) AS distinct_runs FROM apivalue.quality_results WHERE check_name = 'dups';
SELECT count(*) AS rows_in_second_full_run FROM apivalue.run_quality_checks();
SELECT check_name, kind, status, CASE WHEN check_name = 'fresh' THEN (observed > 86400)::int ELSE observed END AS observed
FROM apivalue.quality_status ORDER BY check_name;
SELECT apivalue.run_quality_checks('nope');

-- Drop.
SELECT apivalue.drop_quality_check('broken');
SELECT apivalue.drop_quality_check('broken');
SELECT count(*) AS broken_history_kept FROM apivalue.quality_results WHERE check_name = 'broken';
SELECT apivalue.drop_quality_check('fresh', keep_results => false);
SELECT count(*) AS fresh_history FROM apivalue.quality_results WHERE check_name = 'fresh';

-- Scheduling without pg_cron: a clear error naming the package.
SELECT apivalue.schedule_quality_checks('0 * * * *');

-- Another family's kind: runners with the wrong signature are refused; a
-- correct one works through the same machinery.
CREATE FUNCTION qc_bad_runner(rel regclass) RETURNS float8 LANGUAGE sql AS 'SELECT 1::float8';
INSERT INTO apivalue.quality_check_kinds (kind, runner, observed, description)
VALUES ('bad', 'qc_bad_runner(regclass)', 'x', 'x');
CREATE FUNCTION qc_rows(rel regclass, params jsonb, OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql AS $$ BEGIN EXECUTE format('SELECT count(*) FROM %s', rel) INTO observed; END $$;
INSERT INTO apivalue.quality_check_kinds (kind, runner, parameters, observed, description)
VALUES ('row_count', 'qc_rows(regclass,jsonb)', '{}', 'rows', 'rows in the relation');
SELECT name FROM apivalue.add_quality_check('rows', 'qc_ev', 'row_count', fail_threshold => 1000);
SELECT check_name, status, observed FROM apivalue.run_quality_checks('rows');

-- Table functions used by the kinds.
SELECT * FROM apivalue.null_rates('qc_ev', ARRAY['event', 'device', 'seq']);
SELECT * FROM apivalue.null_rates('qc_ev', ARRAY['nope']);
SELECT bucket_start, event_count, baseline_median, baseline_mad, round(score::numeric, 3) AS score, anomalous
FROM apivalue.volume_anomalies('qc_ev', 'ts', interval '1 hour', 3, 2.5);
SELECT * FROM apivalue.volume_anomalies('qc_ev', 'ts', interval '1 month');
SELECT * FROM apivalue.volume_anomalies('qc_ev', 'ts', interval '1 hour', 1);

DELETE FROM apivalue.quality_checks;
DELETE FROM apivalue.quality_results;
DELETE FROM apivalue.quality_check_kinds WHERE NOT builtin;
DROP FUNCTION qc_bad_runner(regclass);
DROP FUNCTION qc_rows(regclass, jsonb);
DROP TABLE qc_ev, qc_other;
