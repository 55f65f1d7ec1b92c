-- window_funnel, window_funnel_times, retention and funnel_counts: every edge
-- case of ../shared/clickhouse-semantics.md as a named case, every mode,
-- overload resolution, and every bad-input error with its SQLSTATE.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

-- Runs one query; returns its single value as text, or the error's SQLSTATE,
-- message and hint.
CREATE FUNCTION fe_run(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text; st text; msg text; hint text;
BEGIN
  EXECUTE q INTO r;
  RETURN coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN 'ERROR ' || st || ': ' || msg || CASE WHEN hint <> '' THEN ' HINT: ' || hint ELSE '' END;
END $$;

-- Cases: events as "LETTERS@t" tokens, fed in the order written.  Condition
-- k is "the row's letters contain the k-th of A, B, C"; X matches none, AB
-- matches conditions 1 and 2.  "clickhouse" is the answer the rules give
-- (cases marked ✓ in clickhouse-semantics.md were run on ClickHouse).
CREATE TABLE fe_case (rule text, win bigint, modes text, events text, clickhouse int);
INSERT INTO fe_case VALUES
 ('window is inclusive: a step exactly window after the start counts ✓', 10, '', 'A@0 B@10', 2),
 ('one unit more does not count ✓', 10, '', 'A@0 B@11', 1),
 ('every occurrence of c1 may start a chain ✓', 10, '', 'A@1 A@20 B@25 C@26', 3),
 ('0 when c1 never happened ✓', 10, '', 'B@1 C@2', 0),
 ('ties by condition index: B@1 A@1 C@2 ✓', 10, '', 'B@1 A@1 C@2', 3),
 ('ties by condition index: A@1 B@1 C@2 ✓', 10, '', 'A@1 B@1 C@2', 3),
 ('one row matching all conditions counts for each ✓', 10, '', 'ABC@1', 3),
 ('one row matching two conditions, then the third', 10, '', 'AB@1 C@5', 3),
 ('input order does not matter', 10, '', 'C@3 B@2 A@1', 3),
 ('chain broken by the window', 10, '', 'A@0 B@5 C@11', 2),
 ('a later start completes the chain', 10, '', 'A@0 B@5 A@8 B@12 C@15', 3),
 ('rows matching no condition are dropped in the default mode ✓', 10, '', 'A@1 B@2 X@3 C@4', 3),
 ('window 0: steps at the same timestamp still chain ✓', 0, '', 'A@1 B@1', 2),
 ('window 0: one unit later does not', 0, '', 'A@1 B@2', 1),
 ('strict_deduplication: A B B C ✓', 10, 'strict_deduplication', 'A@1 B@2 B@3 C@4', 2),
 ('strict_deduplication: A A B C (second A starts anew) ✓', 10, 'strict_deduplication', 'A@1 A@2 B@3 C@4', 3),
 ('strict_deduplication: A B A C ✓', 10, 'strict_deduplication', 'A@1 B@2 A@3 C@4', 3),
 ('strict_deduplication: duplicate rows at one timestamp repeat the step', 10, 'strict_deduplication', 'A@1 B@2 B@2 C@3', 2),
 ('default mode: the same duplicate rows', 10, '', 'A@1 B@2 B@2 C@3', 3),
 ('strict_deduplication: a repeated step stops even after a new start', 10, 'strict_deduplication', 'A@1 B@2 A@3 B@4 C@5', 2),
 ('strict_order: A B X C, X matching no condition ✓', 10, 'strict_order', 'A@1 B@2 X@3 C@4', 2),
 ('strict_order: A C B C ✓', 10, 'strict_order', 'A@1 C@2 B@3 C@4', 1),
 ('strict_order: repeating the step just reached is allowed ✓', 10, 'strict_order', 'A@1 B@2 B@3 C@4', 3),
 ('strict_order: c1 again is a new start, not an interruption ✓', 10, 'strict_order', 'A@1 B@2 A@3 C@4', 3),
 ('strict_order: unmatched rows before the first c1 are ignored', 10, 'strict_order', 'X@0 A@1 B@2 C@3', 3),
 ('strict_order: an unmatched row tied with a step sorts before it', 10, 'strict_order', 'A@1 B@2 X@2 C@3', 1),
 ('strict_order, allow_reentry: an early future step is skipped', 10, 'strict_order,allow_reentry', 'A@1 C@2 B@3 C@4', 3),
 ('strict_order, allow_reentry: an unmatched row still stops', 10, 'strict_order, allow_reentry', 'A@1 B@2 X@3 C@4', 2),
 ('strict_increase: A@1 B@1 C@2 ✓', 10, 'strict_increase', 'A@1 B@1 C@2', 1),
 ('strict_increase: slot 1 holds the latest start, A@1 A@2 B@2 C@3 ✓', 10, 'strict_increase', 'A@1 A@2 B@2 C@3', 1),
 ('strict_increase: a tie later in the chain', 10, 'strict_increase', 'A@1 B@2 C@2', 2),
 ('strict_deduplication wins over strict_order', 10, 'strict_order,strict_deduplication', 'A@1 B@2 B@3 C@4', 2),
 ('strict_order with strict_increase: a tie blocks, then C is out of order', 10, 'strict_order, strict_increase', 'A@1 B@1 C@2', 1),
 ('all three strict modes on a clean chain', 10, 'strict_deduplication, strict_order, strict_increase', 'X@0 A@1 B@2 C@3', 3),
 ('modes tolerate blanks and empty items', 10, ' strict_order ,, ', 'A@1 B@2 X@3 C@4', 2);

CREATE VIEW fe_rows AS
SELECT c.rule, c.win, c.modes, c.clickhouse, o AS ord,
       split_part(tok, '@', 1) AS e, split_part(tok, '@', 2)::bigint AS t
FROM fe_case c, regexp_split_to_table(c.events, ' ') WITH ORDINALITY AS x(tok, o);

-- bigint, timestamptz (seconds) and timestamp overloads must all agree
SELECT rule, modes, events, clickhouse, got_bigint,
       got_bigint = clickhouse AND got_tz = clickhouse AND got_ts = clickhouse AS ok
FROM (
  SELECT rule, modes, clickhouse,
    apivalue.window_funnel(win, modes, t, e ~ 'A', e ~ 'B', e ~ 'C' ORDER BY ord) AS got_bigint,
    apivalue.window_funnel(make_interval(secs => win), modes, to_timestamp(t),
                           e ~ 'A', e ~ 'B', e ~ 'C' ORDER BY ord) AS got_tz,
    apivalue.window_funnel(make_interval(secs => win), modes, to_timestamp(t) AT TIME ZONE 'UTC',
                           e ~ 'A', e ~ 'B', e ~ 'C' ORDER BY ord) AS got_ts
  FROM fe_rows GROUP BY rule, modes, clickhouse) s
JOIN fe_case USING (rule, modes, clickhouse)
ORDER BY rule;

-- ClickHouse: windowFunnel(10)(t, e='a', e='a', e='a') over one row a gives 3 ✓
SELECT apivalue.window_funnel(10, t, e = 'a', e = 'a', e = 'a') AS three_conditions_one_row
FROM (VALUES (1::bigint, 'a')) v(t, e);

-- One condition: 1 as soon as it held once; 0 otherwise.
SELECT apivalue.window_funnel(10, t, e = 'a') AS one_step,
       apivalue.window_funnel(10, 'strict_order', t, e = 'a') AS one_step_strict_order,
       apivalue.window_funnel(10, t, e = 'z') AS never
FROM (VALUES (1::bigint, 'x'), (2, 'a'), (3, 'x')) v(t, e);

-- NULL timestamps are skipped; NULL conditions are false for that step only.
SELECT apivalue.window_funnel(10, t, e = 'A', e = 'B', e = 'C') AS null_ts_skipped
FROM (VALUES (1::bigint, 'A'), (NULL, 'B'), (3, 'C')) v(t, e);
SELECT apivalue.window_funnel(10, t, e = 'A', e = 'B', e = 'C') AS null_event_no_condition,
       apivalue.window_funnel(10, t, e = 'A', CASE WHEN e = 'B' THEN NULL ELSE e = 'B' END, e = 'C')
         AS null_condition_false,
       apivalue.window_funnel(10, 'strict_order', t, e = 'A', e = 'B', e = 'C') AS null_event_unmatched_in_strict_order
FROM (VALUES (1::bigint, 'A'), (2, 'B'), (3, NULL), (4, 'C')) v(t, e);

-- No rows: level 0 (as ClickHouse); times empty; retention and funnel_counts NULL.
SELECT apivalue.window_funnel('1 hour', ts, true) AS wf,
       apivalue.window_funnel_times('1 hour', ts, true) AS times,
       apivalue.retention(true, false) AS retention
FROM (SELECT now() AS ts WHERE false) s;
SELECT apivalue.funnel_counts(1, 3) FROM (SELECT 1 WHERE false) s;

-- Windows: an interval's months count as 30 days; bigint extremes do not wrap.
SELECT apivalue.window_funnel('1 mon', ts, e = 'A', e = 'B') AS thirty_days
FROM (VALUES ('2024-01-01 00:00+00'::timestamptz, 'A'), ('2024-01-31 00:00+00', 'B')) v(ts, e);
SELECT apivalue.window_funnel('1 mon', ts, e = 'A', e = 'B') AS thirty_days_and_a_second
FROM (VALUES ('2024-01-01 00:00+00'::timestamptz, 'A'), ('2024-01-31 00:00:01+00', 'B')) v(ts, e);
SELECT apivalue.window_funnel(9223372036854775807, t, e = 'A', e = 'B') AS full_range_fits,
       apivalue.window_funnel(9223372036854775806, t, e = 'A', e = 'B') AS one_less_does_not
FROM (VALUES (-9223372036854775807::bigint, 'A'), (0, 'B')) v(t, e);
SELECT apivalue.window_funnel(9223372036854775807, t, e = 'A', e = 'B') AS difference_beyond_bigint
FROM (VALUES (-9000000000000000000::bigint, 'A'), (9000000000000000000, 'B')) v(t, e);
-- the whole timestamp range is wider than bigint microseconds can subtract
SELECT apivalue.window_funnel('290000 years', ts, e = 'A', e = 'B') AS whole_range_apart
FROM (VALUES ('4713-01-01 BC'::timestamptz, 'A'), ('294276-01-01'::timestamptz, 'B')) v(ts, e);
SELECT apivalue.window_funnel('290000 years', ts, e = 'A', e = 'B') AS inside_a_huge_window
FROM (VALUES ('4713-01-01 BC'::timestamptz, 'A'), ('4713-01-01 BC'::timestamptz + '280000 years', 'B')) v(ts, e);

-- 32 conditions: a chain through all of them; condition k is "n = k".
SELECT fe_run(format('SELECT apivalue.window_funnel(100, n::bigint, %s) FROM generate_series(1, 32) n',
  (SELECT string_agg(format('n = %s', k), ', ') FROM generate_series(1, 32) k))) AS level_32;
SELECT fe_run(format('SELECT apivalue.retention(%s) FROM generate_series(1, 32) n',
  (SELECT string_agg(format('n = %s', k), ', ') FROM generate_series(1, 32) k))) AS retention_32;

-- Conditions passed explicitly as VARIADIC boolean[] work too.
SELECT apivalue.window_funnel(10, t, VARIADIC ARRAY[e = 'A', e = 'B', e = 'C']) AS variadic_array,
       apivalue.retention(VARIADIC ARRAY[e = 'A', e = 'Z', e = 'C']) AS retention_array
FROM (VALUES (1::bigint, 'A'), (2, 'B'), (3, 'C')) v(t, e);

-- Overload resolution: (window, ts, c...) and (window, modes, ts, c...) for
-- every time type.  A B X C gives 3 in the default mode and 2 in strict_order.
CREATE TABLE fe_abxc (t bigint, e text);
INSERT INTO fe_abxc VALUES (1, 'A'), (2, 'B'), (3, 'X'), (4, 'C');
SELECT
  apivalue.window_funnel('1 hour', to_timestamp(t), e = 'A', e = 'B', e = 'C') AS tz_default,
  apivalue.window_funnel('1 hour', 'strict_order', to_timestamp(t), e = 'A', e = 'B', e = 'C') AS tz_strict_order,
  apivalue.window_funnel('1 hour', to_timestamp(t)::timestamp, e = 'A', e = 'B', e = 'C') AS ts_default,
  apivalue.window_funnel('1 hour', 'strict_order', to_timestamp(t)::timestamp, e = 'A', e = 'B', e = 'C') AS ts_strict_order,
  apivalue.window_funnel(3600, t, e = 'A', e = 'B', e = 'C') AS bigint_default,
  apivalue.window_funnel(3600, 'strict_order', t, e = 'A', e = 'B', e = 'C') AS bigint_strict_order,
  apivalue.window_funnel(3600, 'strict_order', t::int, e = 'A', e = 'B', e = 'C') AS int_ts_strict_order
FROM fe_abxc;
SELECT pg_typeof(apivalue.window_funnel_times('1 hour', to_timestamp(t), e = 'A')) AS tz,
       pg_typeof(apivalue.window_funnel_times('1 hour', 'strict_order', to_timestamp(t)::timestamp, e = 'A')) AS ts,
       pg_typeof(apivalue.window_funnel_times(3600, t, e = 'A')) AS big
FROM fe_abxc;

-- window_funnel_times: the step times of the first chain that reached the
-- final level; cardinality = window_funnel.
SELECT events, apivalue.window_funnel(10, t, e ~ 'A', e ~ 'B', e ~ 'C' ORDER BY o) AS level,
       apivalue.window_funnel_times(10, t, e ~ 'A', e ~ 'B', e ~ 'C' ORDER BY o) AS times,
       apivalue.window_funnel_times(10, 'strict_order', t, e ~ 'A', e ~ 'B', e ~ 'C' ORDER BY o) AS times_strict_order
FROM (VALUES ('A@1 A@5 B@6 C@7'), ('A@1 B@2 A@3 B@4 C@20'), ('B@1 C@2'), ('C@9 B@8 A@7'),
             ('A@1 B@2 X@3 C@4'), ('ABC@3')) c(events),
     LATERAL (SELECT split_part(tok, '@', 1) AS e, split_part(tok, '@', 2)::bigint AS t, o
              FROM regexp_split_to_table(events, ' ') WITH ORDINALITY x(tok, o)) r
GROUP BY events ORDER BY events;
SET TimeZone = 'UTC';
SELECT apivalue.window_funnel_times('1 hour', to_timestamp(t), e = 'A', e = 'B', e = 'C') AS tz_times,
       apivalue.window_funnel_times('1 hour', to_timestamp(t)::timestamp, e = 'A', e = 'B', e = 'C') AS ts_times
FROM fe_abxc;
RESET TimeZone;

-- retention
SELECT events, apivalue.retention(e ~ 'A', e ~ 'B', e ~ 'C') AS retention
FROM (VALUES ('B C'), ('A'), ('A B'), ('C A'), ('A B C'), ('AC'), ('A? B?')) c(events),
     LATERAL (SELECT CASE WHEN tok LIKE '%?' THEN NULL ELSE tok END AS e
              FROM regexp_split_to_table(events, ' ') tok) r
GROUP BY events ORDER BY events;
SELECT apivalue.retention(e = 'A') AS one_condition FROM (VALUES ('A'), ('B')) v(e);

-- funnel_counts: element k counts levels >= k; level above steps counts for
-- every step; 0 and NULL count for none.
SELECT apivalue.funnel_counts(l, 3) FROM (VALUES (0), (1), (2), (3), (5), (NULL), (2)) v(l);
SELECT apivalue.funnel_counts(l, 1) FROM (VALUES (0), (1), (4)) v(l);

-- Bad input: every error, with its SQLSTATE.
SELECT q, fe_run(q) AS result FROM (VALUES
 ($$SELECT apivalue.window_funnel(NULL::interval, now(), true)$$),
 ($$SELECT apivalue.window_funnel(NULL::bigint, 1::bigint, true)$$),
 ($$SELECT apivalue.window_funnel('-1 second', now(), true)$$),
 ($$SELECT apivalue.window_funnel(-1, 1::bigint, true)$$),
 ($$SELECT apivalue.window_funnel('1 hour', now())$$),
 ($$SELECT apivalue.window_funnel('1 hour', 'strict_order', now()::timestamp)$$),
 ($$SELECT apivalue.window_funnel(10, 1::bigint)$$),
 ($$SELECT apivalue.window_funnel_times(10, 'strict_order', 1::bigint)$$),
 ($$SELECT apivalue.window_funnel('1 hour', 'strict_order, bogus', now(), true)$$),
 ($$SELECT apivalue.window_funnel('1 hour', 'strict', now(), true)$$),
 ($$SELECT apivalue.window_funnel('1 hour', 'STRICT_ORDER', now(), true)$$),
 ($$SELECT apivalue.window_funnel('1 hour', 'allow_reentry', now(), true)$$),
 ($$SELECT apivalue.window_funnel('1 hour', NULL::text, now(), true)$$),
 ($$SELECT apivalue.window_funnel('1 hour', 'infinity'::timestamptz, true)$$),
 ($$SELECT apivalue.window_funnel('1 hour', '-infinity'::timestamp, true)$$),
 ($$SELECT apivalue.window_funnel('1 hour', now(), 1)$$),
 ($$SELECT apivalue.window_funnel('1 hour', now(), true, 'yes'::text)$$),
 ($$SELECT apivalue.window_funnel('1 hour', now(), VARIADIC ARRAY[1, 2])$$),
 ($$SELECT apivalue.window_funnel(10, 1::bigint, VARIADIC ARRAY[]::boolean[])$$),
 ($$SELECT apivalue.window_funnel(w, t, true) FROM (VALUES (10, 1::bigint), (20, 2)) v(w, t)$$),
 ($$SELECT apivalue.window_funnel(10, m, t, true) FROM (VALUES ('', 1::bigint), ('strict_order', 2)) v(m, t)$$),
 ($$SELECT apivalue.retention(1, true)$$),
 ($$SELECT apivalue.funnel_counts(1, NULL)$$),
 ($$SELECT apivalue.funnel_counts(1, 0)$$),
 ($$SELECT apivalue.funnel_counts(1, 33)$$),
 ($$SELECT apivalue.funnel_counts(-1, 3)$$),
 ($$SELECT apivalue.funnel_counts(1, s) FROM (VALUES (3), (4)) v(s)$$),
 ($$SELECT apivalue.funnel_counts_combine('{1,2}', '{1,2,3}')$$),
 ($$SELECT apivalue.funnel_counts_combine('{1,NULL}', '{1,2}')$$),
 ($$SELECT apivalue.window_funnel('300000 years', now(), true)$$),
 ($$SELECT apivalue.window_funnel_final(NULL::internal)$$)
) v(q);
SELECT fe_run(format('SELECT apivalue.window_funnel(100, n::bigint, %s) FROM generate_series(1, 33) n',
  (SELECT string_agg(format('n = %s', k), ', ') FROM generate_series(1, 33) k))) AS conditions_33;
SELECT fe_run(format('SELECT apivalue.retention(%s) FROM generate_series(1, 33) n',
  (SELECT string_agg(format('n = %s', k), ', ') FROM generate_series(1, 33) k))) AS retention_33;
SELECT fe_run($$SELECT apivalue.window_funnel(10, 1::bigint, VARIADIC array_fill(true, ARRAY[33]))$$) AS array_33;

DROP VIEW fe_rows;
DROP TABLE fe_case, fe_abxc;
DROP FUNCTION fe_run(text);
