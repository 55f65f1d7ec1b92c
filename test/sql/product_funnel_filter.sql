SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- funnel_report reads only the rows matching a step or an exclusion (its
-- scan is filtered with "step1 OR step2 OR ... OR exclusion"), except in
-- strict_order mode, where unrelated rows interrupt a chain.  This file
-- checks the filter changes no answer: on data where most rows match
-- nothing, every mode's report equals the one computed from the UNFILTERED
-- per-user aggregate (_funnel_report_chains fed every row, unrelated ones
-- included), and the levels equal window_funnel's over every row.
\i test/data/diff.sql
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS pff CASCADE;
CREATE SCHEMA pff;
RESET client_min_messages;

-- Steps a, b, c, d; exclusion x; unrelated events n, m and NULL (about half
-- the rows), whose plan is 'noise' one time in two, so a report that took a
-- breakdown value from an unrelated row would show it.
CREATE TABLE pff.ev (u int, ts timestamptz, e text, plan text);
SELECT setseed(0.27);
INSERT INTO pff.ev
SELECT u, timestamptz '2024-05-01' + (random() * 150)::int * interval '1 minute', e.e,
       CASE WHEN e.e IN ('a','b','c','d','x') OR random() < 0.5
            THEN (ARRAY['free','pro','team'])[1 + floor(random() * 3)::int] ELSE 'noise' END
FROM generate_series(1, 70) u, generate_series(1, 2 + (u % 15)) k,
     LATERAL (SELECT (ARRAY['a','b','c','d','x','n','n','m','m',NULL,'a','b','c','n'])
                     [1 + floor(random() * 14 + k * 0)::int] AS e) e;

-- funnel_report's configuration array for a case (as funnel_report builds it)
CREATE FUNCTION pff.cfg(win interval, modes_bits int, opt_mask int, ord text, cnt text,
                        excl boolean, lo int, hi int, attr int)
RETURNS bigint[] LANGUAGE sql AS $$
  SELECT ARRAY[1, 4, excl::int, extract(epoch FROM win)::bigint * 1000000, modes_bits,
               (ord = 'any_order')::int, (cnt = 'total')::int, attr, opt_mask]::bigint[]
         || CASE WHEN excl THEN ARRAY[lo, hi]::bigint[] ELSE '{}'::bigint[] END
$$;

-- The reference: the per-user aggregate over EVERY row (no filter), grouped
-- as funnel_report groups it.
CREATE FUNCTION pff.reference(win interval, modes_bits int, opt_mask int, ord text, cnt text,
                              excl boolean, lo int, hi int, attr int)
RETURNS TABLE (k text, v text)
LANGUAGE sql AS $$
  WITH c AS (
    SELECT apivalue._funnel_report_chains(pff.cfg(win, modes_bits, opt_mask, ord, cnt, excl, lo, hi, attr),
             ts, plan, e = 'a', e = 'b', e = 'c', e = 'd', e = 'x') AS a
    FROM pff.ev WHERE u IS NOT NULL AND ts IS NOT NULL AND excl GROUP BY u
    UNION ALL
    SELECT apivalue._funnel_report_chains(pff.cfg(win, modes_bits, opt_mask, ord, cnt, excl, lo, hi, attr),
             ts, plan, e = 'a', e = 'b', e = 'c', e = 'd') AS a
    FROM pff.ev WHERE u IS NOT NULL AND ts IS NOT NULL AND NOT excl GROUP BY u
  ), h AS (
    SELECT p.* FROM c CROSS JOIN LATERAL unnest(c.a) p
  )
  SELECT coalesce(h.breakdown_value, '<null>') || '/' || h.step,
         concat_ws(' ', count(*), count(*) FILTER (WHERE h.last AND h.step < 4), avg(h.from_previous),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY h.from_previous),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY h.from_previous),
                   (SELECT count(*) FROM h h2 WHERE h2.excluded))
  FROM h WHERE NOT h.excluded
  GROUP BY h.breakdown_value, h.step
$$;

CREATE FUNCTION pff.actual(win interval, modes text, opt int[], ord text, cnt text,
                           excl boolean, lo int, hi int, attr text)
RETURNS TABLE (k text, v text)
LANGUAGE sql AS $$
  SELECT coalesce(r.breakdown_value, '<null>') || '/' || r.step,
         concat_ws(' ', r.users, r.dropped_after, r.avg_time_from_previous,
                   r.median_time_from_previous, r.p90_time_from_previous, r.excluded_users)
  FROM apivalue.funnel_report('pff.ev', 'u', 'ts',
         ARRAY[$s$e = 'a'$s$, $s$e = 'b'$s$, $s$e = 'c'$s$, $s$e = 'd'$s$], win,
         mode => modes, optional_steps => opt, step_order => ord, counting => cnt,
         exclusions => CASE WHEN excl THEN ARRAY[$s$e = 'x'$s$] ELSE '{}' END,
         exclusion_steps => CASE WHEN excl THEN ARRAY[int4range(lo, hi, '[]')] END,
         breakdown => 'plan', attribution => attr) r
  WHERE r.users > 0
$$;

CREATE TABLE pff.cases (name text, win interval, modes text, modes_bits int, opt int[], opt_mask int,
                        ord text, cnt text, excl boolean, lo int, hi int, attr text, attr_n int);
INSERT INTO pff.cases VALUES
  ('default',                       '30 min', '', 0, '{}', 0, 'ordered', 'unique', false, 1, 4, 'first_touch', -2),
  ('strict_order',                  '30 min', 'strict_order', 2, '{}', 0, 'ordered', 'unique', false, 1, 4, 'first_touch', -2),
  ('strict_order, allow_reentry',   '30 min', 'strict_order, allow_reentry', 10, '{}', 0, 'ordered', 'unique', false, 1, 4, 'last_touch', -1),
  ('strict_order x exclusion',      '30 min', 'strict_order', 2, '{}', 0, 'ordered', 'unique', true, 1, 3, 'first_touch', -2),
  ('strict_order x optional 3',     '45 min', 'strict_order', 2, '{3}', 4, 'ordered', 'unique', false, 1, 4, 'step:2', 2),
  ('strict_order, dedup',           '30 min', 'strict_order, strict_deduplication', 3, '{}', 0, 'ordered', 'unique', false, 1, 4, 'first_touch', -2),
  ('strict_deduplication',          '30 min', 'strict_deduplication', 1, '{}', 0, 'ordered', 'unique', true, 2, 3, 'last_touch', -1),
  ('strict_increase',               '30 min', 'strict_increase', 4, '{}', 0, 'ordered', 'unique', true, 1, 4, 'step:3', 3),
  ('optional 2 x exclusion',        '45 min', '', 0, '{2}', 2, 'ordered', 'unique', true, 1, 3, 'last_touch', -1),
  ('total',                         '30 min', '', 0, '{}', 0, 'ordered', 'total', true, 2, 4, 'last_touch', -1),
  ('total strict_increase optional','30 min', 'strict_increase', 4, '{3}', 4, 'ordered', 'total', false, 1, 4, 'step:2', 2),
  ('any_order',                     '30 min', '', 0, '{}', 0, 'any_order', 'unique', true, 1, 2, 'last_touch', -1),
  ('any_order step:2',              '30 min', '', 0, '{}', 0, 'any_order', 'unique', false, 1, 4, 'step:2', 2);

SELECT c.name, d.compared > 0 AS compared, d.mismatches, d.first_mismatch
FROM pff.cases c,
     LATERAL avtest.diff(
       format('SELECT * FROM pff.actual(%L, %L, %L, %L, %L, %L, %s, %s, %L)',
              c.win, c.modes, c.opt, c.ord, c.cnt, c.excl, c.lo, c.hi, c.attr),
       format('SELECT * FROM pff.reference(%L, %s, %s, %L, %L, %L, %s, %s, %s)',
              c.win, c.modes_bits, c.opt_mask, c.ord, c.cnt, c.excl, c.lo, c.hi, c.attr_n)) d
ORDER BY c.name;

-- no breakdown value of an unrelated row ever labels a chain
SELECT count(*) AS noise_labels
FROM pff.cases c,
     LATERAL pff.actual(c.win, c.modes, c.opt, c.ord, c.cnt, c.excl, c.lo, c.hi, c.attr) a
WHERE a.k LIKE 'noise/%';

-- users per step = users whose window_funnel level over EVERY row is >= step,
-- for each window_funnel mode
SELECT m.modes, d.compared, d.mismatches, d.first_mismatch
FROM (VALUES (''), ('strict_order'), ('strict_order, allow_reentry'), ('strict_deduplication'),
             ('strict_increase'), ('strict_order, strict_deduplication, strict_increase')) m(modes),
     LATERAL avtest.diff(
       format($q$SELECT r.step::text AS k, r.users::text AS v FROM apivalue.funnel_report('pff.ev', 'u', 'ts',
                  ARRAY[$s$e = 'a'$s$, $s$e = 'b'$s$, $s$e = 'c'$s$, $s$e = 'd'$s$], '30 min', mode => %L) r$q$,
              m.modes),
       format($q$SELECT s.s::text AS k, count(*) FILTER (WHERE w.lvl >= s.s)::text AS v
                 FROM (SELECT apivalue.window_funnel('30 min', %L, ts, e = 'a', e = 'b', e = 'c', e = 'd') AS lvl
                       FROM pff.ev WHERE u IS NOT NULL GROUP BY u) w, generate_series(1, 4) s(s)
                 GROUP BY s.s$q$, m.modes)) d
ORDER BY m.modes;

-- Hand-made users (times in minutes after 10:00):
--   1: a@0 n@1 b@2 m@3 c@4          unrelated rows between every step
--   2: a@0 b@1 n@2 b@3 c@4          a repeated step after an unrelated row
--   3: n@0 (plan zz) a@1 b@2 c@3    an unrelated row before the start
--   4: a@0 x@1 b@2 c@3              an exclusion-only row between steps 1 and 2
--   5: n@0 m@1                      no step at all
CREATE TABLE pff.hand (u int, ts timestamptz, e text, plan text);
INSERT INTO pff.hand
SELECT v.u, timestamptz '2024-06-01 10:00' + v.m * interval '1 minute', v.e, v.plan
FROM (VALUES (1, 0, 'a', 'p'), (1, 1, 'n', 'zz'), (1, 2, 'b', 'q'), (1, 3, 'm', 'zz'), (1, 4, 'c', 'r'),
             (2, 0, 'a', 'p'), (2, 1, 'b', 'q'), (2, 2, 'n', 'zz'), (2, 3, 'b', 'q'), (2, 4, 'c', 'r'),
             (3, 0, 'n', 'zz'), (3, 1, 'a', 'p'), (3, 2, 'b', 'q'), (3, 3, 'c', 'r'),
             (4, 0, 'a', 'p'), (4, 1, 'x', 'zz'), (4, 2, 'b', 'q'), (4, 3, 'c', 'r'),
             (5, 0, 'n', 'zz'), (5, 1, 'm', 'zz')) v(u, m, e, plan);

DO $$
BEGIN
  FOR i IN 1 .. 5 LOOP
    EXECUTE format('CREATE VIEW pff.hand_%s AS SELECT * FROM pff.hand WHERE u = %s', i, i);
  END LOOP;
END
$$;

-- per user and mode: the report's deepest step (one user at a time) and
-- window_funnel's level over all of the user's rows
SELECT h.u, m.modes,
       (SELECT max(r.step) FILTER (WHERE r.users > 0)
        FROM apivalue.funnel_report(format('pff.hand_%s', h.u)::regclass, 'u', 'ts',
               ARRAY[$s$e = 'a'$s$, $s$e = 'b'$s$, $s$e = 'c'$s$], '1 hour', mode => m.modes) r) AS report_level,
       (SELECT apivalue.window_funnel('1 hour', m.modes, ts, e = 'a', e = 'b', e = 'c')
        FROM pff.hand WHERE u = h.u) AS window_funnel
FROM generate_series(1, 5) h(u)
CROSS JOIN (VALUES (''), ('strict_order'), ('strict_deduplication')) m(modes)
ORDER BY h.u, m.modes;

-- all five users, exclusion x between steps 1 and 2 (user 4 is excluded by
-- a row that matches no step), labelled by the plan of the first and of the
-- last step: never by 'zz', the plan of the unrelated rows
SELECT a.attribution, r.breakdown_value, r.step, r.users, r.avg_time_from_previous, r.excluded_users
FROM (VALUES ('first_touch'), ('last_touch')) a(attribution),
     LATERAL apivalue.funnel_report('pff.hand', 'u', 'ts',
       ARRAY[$s$e = 'a'$s$, $s$e = 'b'$s$, $s$e = 'c'$s$], '1 hour',
       exclusions => ARRAY[$s$e = 'x'$s$], exclusion_steps => ARRAY[int4range(1, 2, '[]')],
       breakdown => 'plan', attribution => a.attribution) r
ORDER BY 1, 2, 3;
-- the same in strict_order mode: users 1 and 4 stop at step 1 (n and x
-- interrupt), user 2 at step 2, user 3 goes on; user 4 is still excluded
SELECT r.breakdown_value, r.step, r.users, r.excluded_users
FROM apivalue.funnel_report('pff.hand', 'u', 'ts',
       ARRAY[$s$e = 'a'$s$, $s$e = 'b'$s$, $s$e = 'c'$s$], '1 hour', mode => 'strict_order',
       exclusions => ARRAY[$s$e = 'x'$s$], exclusion_steps => ARRAY[int4range(1, 2, '[]')],
       breakdown => 'plan') r
ORDER BY 1, 2;

SET client_min_messages = warning;
DROP SCHEMA pff CASCADE;
RESET client_min_messages;
