-- Every ClickHouse reference vector for window_funnel and retention
-- (../shared/vectors/, computed by ClickHouse 26.7 from events.csv),
-- reproduced with each time-column overload: timestamptz, timestamp, bigint.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

CREATE TABLE fv_events (user_id int, t bigint, event text);
\copy fv_events FROM '../shared/vectors/events.csv' WITH (FORMAT csv)
SELECT count(*) AS events, count(DISTINCT user_id) AS users FROM fv_events;

CREATE TABLE fv_expected (file text, user_id int, result text);
CREATE TEMP TABLE fv_load (user_id int, result text);
\copy fv_load FROM '../shared/vectors/wf_default.tsv'
INSERT INTO fv_expected SELECT 'wf_default', * FROM fv_load; TRUNCATE fv_load;
\copy fv_load FROM '../shared/vectors/wf_dedup.tsv'
INSERT INTO fv_expected SELECT 'wf_dedup', * FROM fv_load; TRUNCATE fv_load;
\copy fv_load FROM '../shared/vectors/wf_order.tsv'
INSERT INTO fv_expected SELECT 'wf_order', * FROM fv_load; TRUNCATE fv_load;
\copy fv_load FROM '../shared/vectors/wf_increase.tsv'
INSERT INTO fv_expected SELECT 'wf_increase', * FROM fv_load; TRUNCATE fv_load;
\copy fv_load FROM '../shared/vectors/wf_order_reentry.tsv'
INSERT INTO fv_expected SELECT 'wf_order_reentry', * FROM fv_load; TRUNCATE fv_load;
\copy fv_load FROM '../shared/vectors/wf_short.tsv'
INSERT INTO fv_expected SELECT 'wf_short', * FROM fv_load; TRUNCATE fv_load;
\copy fv_load FROM '../shared/vectors/retention.tsv'
INSERT INTO fv_expected SELECT 'retention', * FROM fv_load; TRUNCATE fv_load;
SELECT file, count(*) AS users FROM fv_expected GROUP BY file ORDER BY file;

-- The vector files: window in seconds and the modes ClickHouse was given.
CREATE TABLE fv_case (file text, secs int, modes text);
INSERT INTO fv_case VALUES
  ('wf_default', 3600, ''),
  ('wf_dedup', 3600, 'strict_deduplication'),
  ('wf_order', 3600, 'strict_order'),
  ('wf_increase', 3600, 'strict_increase'),
  ('wf_order_reentry', 3600, 'strict_order, allow_reentry'),
  ('wf_short', 60, '');

-- c = e='signup', e='create_key', e='first_call', e='upgrade'
CREATE FUNCTION fv_query(kind text, secs int, modes text) RETURNS text
LANGUAGE sql AS $$
  SELECT format(
    'SELECT user_id::text AS k, apivalue.window_funnel(%s, %s%s, '
    'event = %L, event = %L, event = %L, event = %L)::text AS v '
    'FROM fv_events GROUP BY user_id',
    CASE kind WHEN 'bigint' THEN secs::text ELSE format('%L::interval', secs || ' seconds') END,
    CASE WHEN modes = '' THEN '' ELSE quote_literal(modes) || ', ' END,
    CASE kind WHEN 'timestamptz' THEN 'to_timestamp(t)'
              WHEN 'timestamp' THEN '(to_timestamp(t) AT TIME ZONE ''UTC'')'
              ELSE 't' END,
    'signup', 'create_key', 'first_call', 'upgrade')
$$;

-- Default-mode vectors are also asked without the modes argument; the others
-- only with it.
SELECT c.file, k.kind, d.compared, d.mismatches, d.first_mismatch
FROM fv_case c
CROSS JOIN (VALUES ('timestamptz'), ('timestamp'), ('bigint')) k(kind)
CROSS JOIN LATERAL avtest.diff(
  fv_query(k.kind, c.secs, c.modes),
  format('SELECT user_id::text AS k, result AS v FROM fv_expected WHERE file = %L', c.file)) d
ORDER BY c.file, k.kind;

-- wf_default and wf_short again with an explicit empty modes string
SELECT c.file, d.compared, d.mismatches
FROM fv_case c
CROSS JOIN LATERAL avtest.diff(
  replace(fv_query('timestamptz', c.secs, c.modes), 'to_timestamp(t)', $q$'', to_timestamp(t)$q$),
  format('SELECT user_id::text AS k, result AS v FROM fv_expected WHERE file = %L', c.file)) d
WHERE c.modes = ''
ORDER BY c.file;

-- retention(e='signup', e='first_call', e='upgrade') printed as [a,b,c]
SELECT 'retention' AS file, * FROM avtest.diff(
  $$SELECT user_id::text AS k, '[' || array_to_string(
      apivalue.retention(event = 'signup', event = 'first_call', event = 'upgrade'), ',') || ']' AS v
    FROM fv_events GROUP BY user_id$$,
  $$SELECT user_id::text AS k, result AS v FROM fv_expected WHERE file = 'retention'$$);

-- The vectors' funnel chart, from funnel_counts over the per-user levels,
-- checked against counting the expected levels directly.
SELECT apivalue.funnel_counts(l, 4) AS chart
FROM (SELECT apivalue.window_funnel('1 hour', to_timestamp(t), event = 'signup',
        event = 'create_key', event = 'first_call', event = 'upgrade') AS l
      FROM fv_events GROUP BY user_id) s;
SELECT array_agg(n ORDER BY k) AS chart_from_vector
FROM (SELECT k, count(*) FILTER (WHERE result::int >= k) AS n
      FROM fv_expected, generate_series(1, 4) k
      WHERE file = 'wf_default' GROUP BY k) s;

DROP TABLE fv_events, fv_expected, fv_case;
DROP FUNCTION fv_query(text, int, text);
