-- value_drivers and the per-user aggregates: bad input gives clear errors
-- with SQLSTATEs, before anything runs; the caller's privileges apply.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

CREATE TABLE drv_err (user_id int, ts timestamptz, endpoint text, status int, latency_ms float8,
                      label text, ok boolean, local_ts timestamp);
INSERT INTO drv_err VALUES (1, '2024-01-01', 'GET /a', 200, 10, 'x', true, '2024-01-01'),
                           (1, '2024-01-09', 'upgrade', 200, 10, 'x', true, '2024-01-09');

CREATE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- vd(args): value_drivers over drv_err with the given extra arguments
CREATE FUNCTION pg_temp.vd(extra text, outcome text DEFAULT $$endpoint = 'upgrade'$$,
                           u text DEFAULT 'user_id', t text DEFAULT 'ts', b text DEFAULT 'endpoint')
RETURNS text LANGUAGE sql AS $$
  SELECT format('SELECT * FROM apivalue.value_drivers(%L, %L, %L, %L, %L%s)',
                'drv_err', u, t, b, outcome, coalesce(', ' || extra, ''))
$$;

SELECT what, pg_temp.sqlstate_of(stmt) AS error
  FROM (VALUES
    ('01 outcome not boolean',     pg_temp.vd(NULL, 'endpoint')),
    ('02 outcome unknown column',  pg_temp.vd(NULL, 'plan = ''pro''')),
    ('03 outcome second statement', pg_temp.vd(NULL, 'true; DROP TABLE drv_err')),
    ('04 outcome breaks out',      pg_temp.vd(NULL, 'true) FROM drv_err; SELECT (true')),
    ('05 outcome empty',           pg_temp.vd(NULL, '  ')),
    ('06 outcome NULL',            pg_temp.vd(NULL, NULL)),
    ('07 unknown user column',     pg_temp.vd(NULL, u => 'uid')),
    ('08 unknown time column',     pg_temp.vd(NULL, t => 'time')),
    ('09 time column not a time',  pg_temp.vd(NULL, t => 'label')),
    ('10 unknown behavior column', pg_temp.vd(NULL, b => 'path')),
    ('11 unknown status column',   pg_temp.vd('status_column => ''code''')),
    ('12 status column boolean',   pg_temp.vd('status_column => ''ok''')),
    ('13 latency column text',     pg_temp.vd('latency_column => ''label'', latency_threshold_ms => 500')),
    ('14 latency without threshold', pg_temp.vd('latency_column => ''latency_ms''')),
    ('15 threshold without column', pg_temp.vd('latency_threshold_ms => 500')),
    ('16 threshold NaN',           pg_temp.vd('latency_column => ''latency_ms'', latency_threshold_ms => ''NaN''')),
    ('17 observation zero',        pg_temp.vd('observation => ''0 days''')),
    ('18 observation negative',    pg_temp.vd('observation => ''-7 days''')),
    ('19 observation NULL',        pg_temp.vd('observation => NULL')),
    ('20 outcome window zero',     pg_temp.vd('outcome_window => ''0 s''')),
    ('21 min_times zero',          pg_temp.vd('min_times => 0')),
    ('22 min_users zero',          pg_temp.vd('min_users => 0')),
    ('23 error threshold zero',    pg_temp.vd('status_column => ''status'', error_threshold => 0')),
    ('24 confidence 1',            pg_temp.vd('confidence => 1')),
    ('25 as_of infinite',          pg_temp.vd('as_of => ''infinity''')),
    ('26 unknown relation',        $$SELECT * FROM apivalue.value_drivers('no_such_table', 'user_id', 'ts', 'endpoint', 'true')$$),
    ('27 valid call',              pg_temp.vd('min_users => 1')),
    ('28 timestamp column',        pg_temp.vd('min_users => 1', t => 'local_ts'))
  ) v(what, stmt)
 ORDER BY what;
-- nothing ran: the table is intact
SELECT count(*) AS rows_left FROM drv_err;

-- normalize_behaviors needs apivalue.normalize_step (SPEC 3); without it the
-- call fails with 42883, with it the call works.
SELECT CASE WHEN to_regprocedure('apivalue.normalize_step(text)') IS NULL
            THEN pg_temp.sqlstate_of(pg_temp.vd('normalize_behaviors => true')) LIKE '42883:%'
            ELSE pg_temp.sqlstate_of(pg_temp.vd('normalize_behaviors => true')) = 'no error'
       END AS normalize_as_documented;

-- Infinite timestamps in the data are errors, not silently skipped.
INSERT INTO drv_err VALUES (2, 'infinity', 'GET /a', 200, 10, 'x', true, 'infinity');
SELECT pg_temp.sqlstate_of(pg_temp.vd(NULL)) AS infinite_in_data;
SELECT pg_temp.sqlstate_of($$SELECT apivalue.behavior_counts(ts, endpoint, '7 days') FROM drv_err$$) AS infinite_in_counts;
DELETE FROM drv_err WHERE user_id = 2;

-- The aggregates check their options too.
SELECT what, pg_temp.sqlstate_of(stmt) AS error
  FROM (VALUES
    ('a observation zero',   $$SELECT apivalue.behavior_counts(ts, endpoint, '0 s') FROM drv_err$$),
    ('b observation NULL',   $$SELECT apivalue.behavior_counts(ts, endpoint, NULL) FROM drv_err$$),
    ('c min_times zero',     $$SELECT apivalue.driver_features(ts, endpoint, false, false, NULL, '7 days', NULL, 0, NULL, NULL, false, NULL) FROM drv_err$$),
    ('d negative window',    $$SELECT apivalue.driver_features(ts, endpoint, false, false, NULL, '7 days', '-1 day', 1, NULL, NULL, false, NULL) FROM drv_err$$),
    ('e options vary',       $$SELECT apivalue.behavior_counts(ts, endpoint, CASE WHEN user_id = 1 AND endpoint = 'upgrade' THEN interval '1 day' ELSE interval '7 days' END) FROM drv_err$$),
    ('f latency Infinity',   $$SELECT apivalue.driver_features(ts, endpoint, false, false, NULL, '7 days', NULL, 1, NULL, 'Infinity', false, NULL) FROM drv_err$$),
    ('g no rows, no check',  $$SELECT apivalue.behavior_counts(ts, endpoint, '0 s') FROM drv_err WHERE false$$)
  ) v(what, stmt)
 ORDER BY what;

-- Caller's privileges: a role that cannot read the table cannot analyse it.
CREATE ROLE drv_err_reader;
GRANT USAGE ON SCHEMA public TO drv_err_reader;
SET ROLE drv_err_reader;
SELECT pg_temp.sqlstate_of(pg_temp.vd(NULL)) AS without_select;
RESET ROLE;
GRANT SELECT ON drv_err TO drv_err_reader;
SET ROLE drv_err_reader;
SELECT pg_temp.sqlstate_of(pg_temp.vd('min_users => 1')) AS with_select;
RESET ROLE;
REVOKE ALL ON drv_err FROM drv_err_reader;
REVOKE USAGE ON SCHEMA public FROM drv_err_reader;
DROP ROLE drv_err_reader;

DROP TABLE drv_err;
