-- apivalue.define_metric / drop_metric / metric_catalog: versions, history,
-- privileges, quality status, and errors with their SQLSTATEs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

CREATE SCHEMA catdef;
CREATE TABLE catdef.calls (tenant text, ts timestamptz, status int);
CREATE VIEW catdef.error_rate AS
  SELECT tenant, avg((status >= 500)::int) AS error_rate FROM catdef.calls GROUP BY tenant;

-- First definition is version 1; the same call again changes nothing.
SELECT apivalue.define_metric('catdef_error_rate', 'catdef.error_rate',
                              'share of calls answered with a 5xx', 'api-platform', 'ratio',
                              grain => 'tenant', tags => '{reliability}',
                              counts_events => 'api_call');
SELECT apivalue.define_metric('catdef_error_rate', 'catdef.error_rate',
                              'share of calls answered with a 5xx', 'api-platform', 'ratio',
                              grain => 'tenant', tags => '{reliability}',
                              counts_events => 'api_call');
-- New metadata: version 2.
SELECT apivalue.define_metric('catdef_error_rate', 'catdef.error_rate',
                              'share of calls answered with a 5xx status', 'sre', 'ratio',
                              grain => 'tenant', tags => '{reliability,slo}',
                              counts_events => 'api_call');

-- Replacing the view is visible at once in the catalog (live SQL), and
-- flagged as a change not yet recorded as a version.
CREATE OR REPLACE VIEW catdef.error_rate AS
  SELECT tenant, avg((status >= 500)::int) AS error_rate FROM catdef.calls
   WHERE status IS NOT NULL GROUP BY tenant;
SELECT name, version, description, owner, unit, grain, tags, counts_events, definition,
       definition_changed, sources, latest_quality_status, defined_by
  FROM apivalue.metric_catalog WHERE name = 'catdef_error_rate';
SELECT definition_sql FROM apivalue.metric_catalog WHERE name = 'catdef_error_rate';
-- Recording it makes version 3.
SELECT apivalue.define_metric('catdef_error_rate', 'catdef.error_rate',
                              'share of calls answered with a 5xx status', 'sre', 'ratio',
                              grain => 'tenant', tags => '{reliability,slo}',
                              counts_events => 'api_call');
SELECT version, definition_changed FROM apivalue.metric_catalog
 WHERE name = 'catdef_error_rate';

-- History keeps every version with who and when (the old SQL included).
SELECT name, version, action, definition_name, description, owner, tags,
       changed_by, session_user_name = session_user AS by_this_session,
       changed_at IS NOT NULL AS has_time
  FROM apivalue.metric_history WHERE name = 'catdef_error_rate' ORDER BY version, action;
SELECT version, definition_sql LIKE '%IS NOT NULL%' AS has_filter
  FROM apivalue.metric_history WHERE name = 'catdef_error_rate' ORDER BY version;
SELECT count(*) AS history_rows, count(DISTINCT h.version) AS versions,
       bool_and(h.changed_at <= m.defined_at) AS ordered_in_time
  FROM apivalue.metric_history h JOIN apivalue.metrics m USING (name)
 WHERE name = 'catdef_error_rate';

-- Drop, then define again: versions continue, never repeat.
SELECT apivalue.drop_metric('catdef_error_rate');
SELECT count(*) FROM apivalue.metric_catalog WHERE name = 'catdef_error_rate';
SELECT apivalue.define_metric('catdef_error_rate', 'catdef.error_rate',
                              'share of calls answered with a 5xx status', 'sre', 'ratio');
SELECT version, action FROM apivalue.metric_history
 WHERE name = 'catdef_error_rate' ORDER BY changed_at, version;

-- Errors, shown as the caller sees them ...
SELECT apivalue.define_metric('catdef_bad', 'catdef.calls', 'not a view', 'me', 'x');
SELECT apivalue.drop_metric('catdef_no_such_metric');
SELECT apivalue.metric_lineage_json('catdef_no_such_metric');
-- ... and their SQLSTATEs.
CREATE FUNCTION catdef.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
SELECT what, catdef.sqlstate_of(stmt) AS sqlstate
  FROM (VALUES
    ('table, not a view', $$SELECT apivalue.define_metric('catdef_bad', 'catdef.calls', 'd', 'o', 'u')$$),
    ('index, not a view', $$SELECT apivalue.define_metric('catdef_bad', 'pg_class_oid_index', 'd', 'o', 'u')$$),
    ('unknown relation', $$SELECT apivalue.define_metric('catdef_bad', 'catdef.nope', 'd', 'o', 'u')$$),
    ('empty name', $$SELECT apivalue.define_metric(' ', 'catdef.error_rate', 'd', 'o', 'u')$$),
    ('padded name', $$SELECT apivalue.define_metric(' x', 'catdef.error_rate', 'd', 'o', 'u')$$),
    ('null description', $$SELECT apivalue.define_metric('catdef_bad', 'catdef.error_rate', NULL, 'o', 'u')$$),
    ('blank owner', $$SELECT apivalue.define_metric('catdef_bad', 'catdef.error_rate', 'd', '', 'u')$$),
    ('null tag', $$SELECT apivalue.define_metric('catdef_bad', 'catdef.error_rate', 'd', 'o', 'u', tags => '{a,NULL}')$$),
    ('drop unknown metric', $$SELECT apivalue.drop_metric('catdef_no_such_metric')$$),
    ('json of unknown metric', $$SELECT apivalue.metric_lineage_json('catdef_no_such_metric')$$)
  ) AS t(what, stmt)
 ORDER BY what;
SELECT count(*) AS bad_metrics FROM apivalue.metrics WHERE name = 'catdef_bad';

-- Privileges: a role sees only metrics whose view it can read, cannot write
-- the catalog tables, and can (re)define or drop only metrics on its own views.
CREATE ROLE regress_catdef_analyst;
CREATE SCHEMA catdef_own AUTHORIZATION regress_catdef_analyst;
GRANT USAGE ON SCHEMA catdef TO regress_catdef_analyst;
CREATE VIEW catdef.public_calls AS SELECT count(*) AS calls FROM catdef.calls;
GRANT SELECT ON catdef.public_calls TO regress_catdef_analyst;
SELECT apivalue.define_metric('catdef_public_calls', 'catdef.public_calls',
                              'all calls', 'api-platform', 'calls');
SET ROLE regress_catdef_analyst;
SELECT name FROM apivalue.metric_catalog WHERE name LIKE 'catdef\_%' ORDER BY name;
SELECT name FROM apivalue.metrics WHERE name LIKE 'catdef\_%' ORDER BY name;
SELECT DISTINCT name FROM apivalue.metric_history WHERE name LIKE 'catdef\_%' ORDER BY name;
SELECT DISTINCT metric_name FROM apivalue.metric_lineage WHERE metric_name LIKE 'catdef\_%' ORDER BY 1;
SELECT what, catdef.sqlstate_of(stmt) AS sqlstate
  FROM (VALUES
    ('insert into metrics', $$INSERT INTO apivalue.metrics SELECT * FROM apivalue.metrics$$),
    ('delete from history', $$DELETE FROM apivalue.metric_history$$),
    ('define on a view it does not own', $$SELECT apivalue.define_metric('catdef_mine', 'catdef.public_calls', 'd', 'o', 'u')$$),
    ('redefine a metric on a view it does not own', $$SELECT apivalue.define_metric('catdef_error_rate', 'catdef.public_calls', 'd', 'o', 'u')$$),
    ('drop a metric on a view it does not own', $$SELECT apivalue.drop_metric('catdef_public_calls')$$),
    ('json of an unreadable metric', $$SELECT apivalue.metric_lineage_json('catdef_error_rate')$$)
  ) AS t(what, stmt)
 ORDER BY what;
CREATE VIEW catdef_own.my_calls AS SELECT * FROM catdef.public_calls;
SELECT apivalue.define_metric('catdef_mine', 'catdef_own.my_calls', 'calls, my way', 'me', 'calls');
SELECT name, version, defined_by FROM apivalue.metric_catalog WHERE name = 'catdef_mine';
RESET ROLE;
SELECT changed_by, session_user_name = session_user AS session_is_superuser
  FROM apivalue.metric_history WHERE name = 'catdef_mine';
SELECT apivalue.drop_metric('catdef_mine');
DROP OWNED BY regress_catdef_analyst;
DROP ROLE regress_catdef_analyst;

-- Quality status of a metric's relations, read from the quality tables by
-- name (here stand-ins with the announced shape); the most severe latest
-- status wins: fail > error > warn > pass.
CREATE TABLE catdef.q_checks (name text PRIMARY KEY, relation regclass, kind text);
CREATE TABLE catdef.q_results (run_id bigint, check_name text, run_at timestamptz, status text);
CREATE TABLE catdef.other (x int);
CREATE FUNCTION catdef.status(rels regclass[]) RETURNS text LANGUAGE sql AS
  $$ SELECT apivalue.metric_quality_status(rels, 'catdef.q_checks', 'catdef.q_results') $$;
SELECT 'no checks' AS case_, catdef.status('{catdef.calls}');
INSERT INTO catdef.q_checks VALUES ('calls_fresh', 'catdef.calls', 'freshness'),
                                   ('calls_dupes', 'catdef.calls', 'duplicates'),
                                   ('other_nulls', 'catdef.other', 'nulls');
SELECT 'checks, no results' AS case_, catdef.status('{catdef.calls}');
INSERT INTO catdef.q_results VALUES (1, 'calls_fresh', '2024-05-01 10:00+00', 'fail'),
                                    (2, 'calls_fresh', '2024-05-01 11:00+00', 'pass'),
                                    (2, 'other_nulls', '2024-05-01 11:00+00', 'fail');
SELECT 'latest pass after a fail' AS case_, catdef.status('{catdef.calls}');
INSERT INTO catdef.q_results VALUES (3, 'calls_dupes', '2024-05-01 09:00+00', 'warn');
SELECT 'pass and warn' AS case_, catdef.status('{catdef.calls}');
INSERT INTO catdef.q_results VALUES (4, 'calls_dupes', '2024-05-01 12:00+00', 'error');
SELECT 'pass and error' AS case_, catdef.status('{catdef.calls}');
SELECT 'other relation included' AS case_, catdef.status('{catdef.calls,catdef.other}');
SELECT 'only other relation' AS case_, catdef.status('{catdef.other}');
SELECT 'absent tables' AS case_,
       apivalue.metric_quality_status('{catdef.calls}', NULL, NULL);
SELECT 'wrong shape' AS case_,
       apivalue.metric_quality_status('{catdef.calls}', 'catdef.other', 'catdef.other');
-- The catalog's own column looks the real tables up: NULL when they are
-- absent or hold no check on these sources.
SELECT name, latest_quality_status FROM apivalue.metric_catalog
 WHERE name LIKE 'catdef\_%' ORDER BY name;

SELECT apivalue.drop_metric('catdef_error_rate');
SELECT apivalue.drop_metric('catdef_public_calls');
DROP SCHEMA catdef CASCADE;
DELETE FROM apivalue.metric_history WHERE name LIKE 'catdef\_%';
