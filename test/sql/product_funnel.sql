SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- funnel_report: hand-made cases for each rule of SPEC 2b, and bad input.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS prh CASCADE;
CREATE SCHEMA prh;
RESET client_min_messages;

CREATE TABLE prh.ev (u text, ts timestamptz, e text, plan text);
CREATE FUNCTION prh.at(m int) RETURNS timestamptz LANGUAGE sql IMMUTABLE
  AS $$ SELECT timestamptz '2024-05-01 00:00+00' + m * interval '1 minute' $$;

-- errors as "SQLSTATE: message"
CREATE FUNCTION prh.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TYPE prh.row AS (bd text, step int, users bigint, from_start numeric, from_prev numeric,
                        dropped bigint, avg_t interval, med_t interval, p90_t interval, excluded bigint);
CREATE FUNCTION prh.report(opts text DEFAULT '')
RETURNS SETOF prh.row LANGUAGE plpgsql AS $f$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT breakdown_value, step, users, round(conversion_from_start::numeric, 3),
           round(conversion_from_previous::numeric, 3), dropped_after,
           avg_time_from_previous, median_time_from_previous, p90_time_from_previous,
           excluded_users
    FROM apivalue.funnel_report('prh.ev', 'u', 'ts',
           ARRAY[$$e = 'a'$$, $$e = 'b'$$, $$e = 'c'$$], '1 hour' %s)$q$, opts);
END $f$;

-- Exclusion between steps 1 and 2: u1 has x between a and b (excluded),
-- u2 has x after b (kept), u3 has x before a (kept); u4 never reaches
-- b and has x inside the window (excluded), u5 has x after the window (kept).
INSERT INTO prh.ev VALUES
  ('u1', prh.at(0), 'a', 'free'), ('u1', prh.at(5), 'x', 'free'), ('u1', prh.at(10), 'b', 'free'), ('u1', prh.at(20), 'c', 'free'),
  ('u2', prh.at(0), 'a', 'free'), ('u2', prh.at(10), 'b', 'free'), ('u2', prh.at(15), 'x', 'free'), ('u2', prh.at(20), 'c', 'free'),
  ('u3', prh.at(-5), 'x', 'free'), ('u3', prh.at(0), 'a', 'free'), ('u3', prh.at(30), 'b', 'free'),
  ('u4', prh.at(0), 'a', 'free'), ('u4', prh.at(40), 'x', 'free'),
  ('u5', prh.at(0), 'a', 'free'), ('u5', prh.at(61), 'x', 'free');
SELECT * FROM prh.report($$, exclusions => ARRAY['e = ''x'''], exclusion_steps => ARRAY[int4range(1, 2, '[]')]$$) ORDER BY 1, 2;
-- an exclusion over steps 2..3: u2 (x between b and c) is out, u1 (x before b) stays
SELECT * FROM prh.report($$, exclusions => ARRAY['e = ''x'''], exclusion_steps => ARRAY[int4range(2, 3, '[]')]$$) ORDER BY 1, 2;

-- Optional step 2: u6 skips b (a -> c); conversion_from_previous of step 3
-- is against step 1, the last mandatory step.
TRUNCATE prh.ev;
INSERT INTO prh.ev VALUES
  ('u6', prh.at(0), 'a', 'free'), ('u6', prh.at(30), 'c', 'free'),
  ('u7', prh.at(0), 'a', 'free'), ('u7', prh.at(10), 'b', 'free'), ('u7', prh.at(20), 'c', 'free'),
  ('u8', prh.at(0), 'a', 'free'), ('u8', prh.at(10), 'b', 'free'),
  ('u9', prh.at(0), 'a', 'free');
SELECT * FROM prh.report($$, optional_steps => '{2}'$$) ORDER BY 1, 2;
-- without the option u6 stops at step 1
SELECT * FROM prh.report() ORDER BY 1, 2;

-- Total counting: a@0 and a@5 open two attempts; b@10 credits only the
-- earliest (one event credits one attempt); in u12 b@12 then credits the
-- second, c@20 the first, c@21 the second.  u11: a@0, b@10, c@20 and a@30
-- (a third attempt that goes nowhere).
TRUNCATE prh.ev;
INSERT INTO prh.ev VALUES
  ('u10', prh.at(0), 'a', 'free'), ('u10', prh.at(5), 'a', 'free'), ('u10', prh.at(10), 'b', 'free'),
  ('u12', prh.at(0), 'a', 'free'), ('u12', prh.at(5), 'a', 'free'), ('u12', prh.at(10), 'b', 'free'),
  ('u12', prh.at(12), 'b', 'free'), ('u12', prh.at(20), 'c', 'free'), ('u12', prh.at(21), 'c', 'free'),
  ('u11', prh.at(0), 'a', 'free'), ('u11', prh.at(10), 'b', 'free'), ('u11', prh.at(20), 'c', 'free'),
  ('u11', prh.at(30), 'a', 'free');
SELECT * FROM prh.report($$, counting => 'total'$$) ORDER BY 1, 2;
SELECT * FROM prh.report($$, counting => 'unique'$$) ORDER BY 1, 2;

-- Breakdown value that changes between step 1 and the last step: u13 is
-- free at a and pro at c; first_touch says free, last_touch pro, step:2 the
-- value at b (team); u14 never reaches b: step:2 gives NULL.
TRUNCATE prh.ev;
INSERT INTO prh.ev VALUES
  ('u13', prh.at(0), 'a', 'free'), ('u13', prh.at(10), 'b', 'team'), ('u13', prh.at(20), 'c', 'pro'),
  ('u14', prh.at(0), 'a', 'free');
SELECT 'first_touch' AS attribution, bd, step, users, from_start, dropped
FROM prh.report($$, breakdown => 'plan'$$)
UNION ALL
SELECT 'last_touch', bd, step, users, from_start, dropped
FROM prh.report($$, breakdown => 'plan', attribution => 'last_touch'$$)
UNION ALL
SELECT 'step:2', bd, step, users, from_start, dropped
FROM prh.report($$, breakdown => 'plan', attribution => 'step:2'$$)
ORDER BY 1, 2 NULLS LAST, 3;
-- a breakdown expression, not only a column
SELECT breakdown_value, step, users
FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['e = ''a''', 'e = ''b'''], '1 hour',
                            breakdown => 'upper(plan) || ''!''')
ORDER BY 1, 2;

-- any_order: b, a, c in any order count as 3 steps; the window starts at
-- the first of them.  Ordered, the same user reaches 1 (b came before a).  u16: c then
-- a 70 minutes later: two windows of one step each.
TRUNCATE prh.ev;
INSERT INTO prh.ev VALUES
  ('u15', prh.at(0), 'b', 'free'), ('u15', prh.at(10), 'a', 'free'), ('u15', prh.at(20), 'c', 'free'),
  ('u16', prh.at(0), 'c', 'free'), ('u16', prh.at(70), 'a', 'free');
SELECT * FROM prh.report($$, step_order => 'any_order'$$) ORDER BY 1, 2;
SELECT * FROM prh.report() ORDER BY 1, 2;

-- window_funnel modes pass through: a b b c is 2 with strict_deduplication
TRUNCATE prh.ev;
INSERT INTO prh.ev VALUES
  ('u17', prh.at(0), 'a', 'free'), ('u17', prh.at(1), 'b', 'free'), ('u17', prh.at(2), 'b', 'free'), ('u17', prh.at(3), 'c', 'free');
SELECT step, users FROM apivalue.funnel_report('prh.ev', 'u', 'ts',
  ARRAY[$$e = 'a'$$, $$e = 'b'$$, $$e = 'c'$$], '1 hour', mode => 'strict_deduplication') ORDER BY 1;
-- labels, and a funnel nobody entered still gives one row per step
SELECT step, step_label, users, conversion_from_start FROM apivalue.funnel_report('prh.ev', 'u', 'ts',
  ARRAY[$$e = 'nothing'$$, $$e = 'b'$$], '1 hour', step_labels => ARRAY['signup', 'key']) ORDER BY 1;

-- Bad input: clear errors with SQLSTATEs.
SELECT prh.err(q) FROM (VALUES
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['e'], '1 hour')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['nope = 1'], '1 hour')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', '{}', '1 hour')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true', 'true'], '1 hour', optional_steps => '{1}')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true', 'true'], '1 hour', optional_steps => '{3}')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true', 'true'], '1 hour', exclusions => ARRAY['true'], exclusion_steps => ARRAY[int4range(1, 3, '[]')])$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true', 'true'], '1 hour', exclusions => ARRAY['true'], exclusion_steps => ARRAY[int4range(2, 2, '[]')])$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true', 'true'], '1 hour', exclusions => ARRAY['true', 'true'], exclusion_steps => ARRAY[int4range(1, 2, '[]')])$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true', 'true'], '1 hour', exclusions => ARRAY['plan'])$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', breakdown => 'nope')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', breakdown => 'plan); DROP TABLE prh.ev; --')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true; DROP TABLE prh.ev'], '1 hour')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', attribution => 'middle')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', attribution => 'step:2')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', mode => 'strict')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', step_order => 'random')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', counting => 'some')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', step_order => 'any_order', mode => 'strict_order')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true', 'true'], '1 hour', step_order => 'any_order', optional_steps => '{2}')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', counting => 'total', mode => 'strict_order')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '-1 hour')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], NULL)$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['true'], '1 hour', step_labels => ARRAY['x', 'y'])$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'e', ARRAY['true'], '1 hour')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'nope', 'ts', ARRAY['true'], '1 hour')$$),
  ($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', array_fill('true'::text, ARRAY[33]), '1 hour')$$),
  ($$SELECT apivalue._funnel_report_chains('{1,1,0,-5,0,0,0,-2,0}', now(), NULL, true)$$),
  ($$SELECT apivalue._funnel_report_chains('{1,2,0,5,0,0,0,-2,0}', now(), NULL, true)$$)
) v(q);
-- infinite timestamps
INSERT INTO prh.ev VALUES ('u18', 'infinity', 'a', 'free');
SELECT prh.err($$SELECT * FROM apivalue.funnel_report('prh.ev', 'u', 'ts', ARRAY['e = ''a'''], '1 hour')$$);
SELECT count(*) AS table_still_there FROM prh.ev;

-- strict_order keeps the rows that match no step (they interrupt a chain;
-- every other mode scans only the rows matching a step or an exclusion):
-- users per step equal window_funnel's levels ("!=" would show a mismatch)
CREATE TABLE prh.so AS
SELECT 'v' || (g * 17) % 40 AS u, prh.at((g * 7919) % 300) AS ts,
       (ARRAY['a', 'b', 'c', 'z', 'b'])[1 + (g * 7 + g / 13) % 5] AS e
FROM generate_series(1, 800) g;
SELECT m.mode, string_agg(r.step || ':' || r.users || (CASE WHEN r.users = w.users THEN '' ELSE '!=' || w.users END),
                          ' ' ORDER BY r.step) AS users_per_step
FROM (VALUES ('strict_order'), ('strict_order, allow_reentry'), ('')) m(mode)
CROSS JOIN LATERAL apivalue.funnel_report('prh.so', 'u', 'ts', ARRAY['e = ''a''', 'e = ''b''', 'e = ''c'''],
                                          '20 minutes', mode => m.mode) r
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE lvl >= r.step) AS users
                    FROM (SELECT apivalue.window_funnel('20 minutes', m.mode, ts, e = 'a', e = 'b', e = 'c') AS lvl
                          FROM prh.so GROUP BY u) x) w
GROUP BY m.mode ORDER BY 1;

SET client_min_messages = warning;
DROP SCHEMA prh CASCADE;
RESET client_min_messages;
