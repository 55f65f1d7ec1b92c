-- sequence_match / sequence_count / sequence_next_node reproduce every
-- reference file computed by ClickHouse (../shared/vectors, see its README),
-- through all three time overloads.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

CREATE TABLE seqv_events (user_id int, t bigint, e text);
\copy seqv_events FROM '../shared/vectors/events.csv' WITH (FORMAT csv)
CREATE TABLE seqv_load (user_id int, result text);
CREATE TABLE seqv_expected (file text, user_id int, result text);
\copy seqv_load FROM '../shared/vectors/sm_12.tsv'
INSERT INTO seqv_expected SELECT 'sm_12', * FROM seqv_load; TRUNCATE seqv_load;
\copy seqv_load FROM '../shared/vectors/sm_1any3.tsv'
INSERT INTO seqv_expected SELECT 'sm_1any3', * FROM seqv_load; TRUNCATE seqv_load;
\copy seqv_load FROM '../shared/vectors/sm_1t600_2.tsv'
INSERT INTO seqv_expected SELECT 'sm_1t600_2', * FROM seqv_load; TRUNCATE seqv_load;
\copy seqv_load FROM '../shared/vectors/sm_2t3600_3.tsv'
INSERT INTO seqv_expected SELECT 'sm_2t3600_3', * FROM seqv_load; TRUNCATE seqv_load;
\copy seqv_load FROM '../shared/vectors/sc_12.tsv'
INSERT INTO seqv_expected SELECT 'sc_12', * FROM seqv_load; TRUNCATE seqv_load;
\copy seqv_load FROM '../shared/vectors/sc_1any3.tsv'
INSERT INTO seqv_expected SELECT 'sc_1any3', * FROM seqv_load; TRUNCATE seqv_load;
\copy seqv_load FROM '../shared/vectors/snn_fwd_head.tsv'
INSERT INTO seqv_expected SELECT 'snn_fwd_head', * FROM seqv_load; TRUNCATE seqv_load;
\copy seqv_load FROM '../shared/vectors/snn_fwd_first.tsv'
INSERT INTO seqv_expected SELECT 'snn_fwd_first', * FROM seqv_load; TRUNCATE seqv_load;
\copy seqv_load FROM '../shared/vectors/snn_bwd_tail.tsv'
INSERT INTO seqv_expected SELECT 'snn_bwd_tail', * FROM seqv_load; TRUNCATE seqv_load;

-- the data as loaded, and the users each file covers (those without ties)
SELECT count(*) AS events, count(DISTINCT user_id) AS users FROM seqv_events;
SELECT file, count(*) AS users FROM seqv_expected GROUP BY file ORDER BY file;
SELECT count(*) AS users_with_ties_in_files
FROM (SELECT DISTINCT user_id FROM seqv_events GROUP BY user_id, t HAVING count(*) > 1) d
WHERE user_id IN (SELECT user_id FROM seqv_expected);

-- Each file: its ClickHouse expression, with the time as timestamptz,
-- timestamp and bigint.  c = signup, create_key, first_call, upgrade.
CREATE TABLE seqv_cases (file text, expr text);
INSERT INTO seqv_cases VALUES
 ('sm_12',        $$apivalue.sequence_match('(?1)(?2)', @TS@, @C@)::int::text$$),
 ('sm_1any3',     $$apivalue.sequence_match('(?1).*(?3)', @TS@, @C@)::int::text$$),
 ('sm_1t600_2',   $$apivalue.sequence_match('(?1)(?t<=600)(?2)', @TS@, @C@)::int::text$$),
 ('sm_2t3600_3',  $$apivalue.sequence_match('(?2)(?t>3600)(?3)', @TS@, @C@)::int::text$$),
 ('sc_12',        $$apivalue.sequence_count('(?1)(?2)', @TS@, @C@)::text$$),
 ('sc_1any3',     $$apivalue.sequence_count('(?1).*(?3)', @TS@, @C@)::text$$),
 ('snn_fwd_head', $$apivalue.sequence_next_node('forward', 'head', @TS@, e, e = 'signup', e = 'signup')$$),
 ('snn_fwd_first', $$apivalue.sequence_next_node('forward', 'first_match', @TS@, e, true, e = 'create_key')$$),
 ('snn_bwd_tail', $$apivalue.sequence_next_node('backward', 'tail', @TS@, e, e = 'upgrade', e = 'upgrade')$$);

SELECT c.file, tt.kind, d.compared, d.mismatches, d.first_mismatch
FROM seqv_cases c
CROSS JOIN (VALUES ('timestamptz', 'to_timestamp(t)'),
                   ('timestamp', $$(to_timestamp(t) AT TIME ZONE 'UTC')$$),
                   ('bigint', 't')) AS tt(kind, ts)
CROSS JOIN LATERAL avtest.diff(
  format($q$SELECT user_id::text AS k, %s AS v FROM seqv_events
            WHERE user_id IN (SELECT user_id FROM seqv_expected WHERE file = %L)
            GROUP BY user_id$q$,
         replace(replace(c.expr, '@TS@', tt.ts),
                 '@C@', $$e = 'signup', e = 'create_key', e = 'first_call', e = 'upgrade'$$),
         c.file),
  format($q$SELECT user_id::text AS k, result AS v FROM seqv_expected WHERE file = %L$q$, c.file)) d
ORDER BY c.file, tt.kind;

DROP TABLE seqv_events, seqv_load, seqv_expected, seqv_cases;
