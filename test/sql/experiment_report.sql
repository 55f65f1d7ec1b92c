SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set ECHO none
\i test/data/diff.sql
\set ECHO all

-- experiment_report on generated experiments with known truth.
--
-- exp_gen(run, users, share_of_b, rate_a, rate_b, contaminated, seed): per
-- user one exposure (a repeat exposure to the same variant for every 5th
-- user), a conversion within 10 days with the variant's rate, and decoys
-- that must not count: outcomes before the exposure and 15-30 days after.
-- A contaminated user is exposed to the other variant 1-3 days later.
--
-- exp_u01(seed, i, k) is user i's k-th uniform draw of a run.  The user's
-- hash (seeded by the run) seeds the draw's hash, so every user has their own
-- fully mixed state and the draws are independent within a user, across users
-- and across runs.  (Hashing i * 64 + k under the run's seed directly is not:
-- inputs that differ in one bit go through the same seeded state, and the
-- variant and conversion draws of a user come out correlated by an amount that
-- varies from seed to seed; the A/A z-scores then had variance 1.9 instead of
-- 1 and 7 of 100 runs fell below p = 0.01.)
CREATE TABLE exp_ev (run int, uid int, ts timestamptz, event text, variant text, payload jsonb);
CREATE FUNCTION exp_u01(seed bigint, i bigint, k int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
  $$ SELECT (hashint8extended(k, hashint8extended(i, seed)) & 4294967295)::float8 / 4294967296 $$;
CREATE FUNCTION exp_gen(r int, n int, share_b float8, rate_a float8, rate_b float8, contaminated float8, seed bigint)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO exp_ev
  WITH u AS (
    SELECT i AS uid,
           timestamptz '2026-04-01 00:00+00' + exp_u01(seed, i, 1) * interval '20 days' AS t0,
           CASE WHEN exp_u01(seed, i, 2) < share_b THEN 'b' ELSE 'a' END AS v,
           exp_u01(seed, i, 3) AS c, exp_u01(seed, i, 4) AS x
      FROM generate_series(1, n) i
  )
  SELECT r, uid, t0, 'exposure', v, jsonb_build_object('variant', v) FROM u
  UNION ALL
  SELECT r, uid, t0 + interval '2 hours', 'exposure', v, jsonb_build_object('variant', v) FROM u WHERE uid % 5 = 0
  UNION ALL
  SELECT r, uid, t0 + interval '1 day' + x * interval '2 days', 'exposure', CASE v WHEN 'a' THEN 'b' ELSE 'a' END,
         jsonb_build_object('variant', CASE v WHEN 'a' THEN 'b' ELSE 'a' END)
    FROM u WHERE exp_u01(seed, uid, 5) < contaminated
  UNION ALL
  SELECT r, uid, t0 + x * interval '10 days', 'convert', NULL, NULL FROM u
   WHERE c < CASE v WHEN 'a' THEN rate_a ELSE rate_b END
  UNION ALL   -- decoys: before the exposure, and after the 14-day window
  SELECT r, uid, t0 - interval '1 hour', 'convert', NULL, NULL FROM u WHERE uid % 7 = 0
  UNION ALL
  SELECT r, uid, t0 + interval '15 days' + x * interval '15 days', 'convert', NULL, NULL FROM u WHERE uid % 3 = 0
$$;

-- 1. A true lift: rates 0.30 / 0.36, 4000 users, 2 % contaminated.
SELECT exp_gen(1, 4000, 0.5, 0.30, 0.36, 0.02, 101);
ANALYZE exp_ev;   -- for the plain-SQL reference below; the report needs no statistics
CREATE TEMP TABLE exp_r1 AS
SELECT * FROM apivalue.experiment_report('exp_ev', 'uid', 'ts', 'variant',
         $$run = 1 AND event = 'exposure'$$, $$run = 1 AND event = 'convert'$$);
SELECT variant, users, converted, diff_vs_control IS NULL AS is_control,
       p_value < 0.01 AS significant, diff_ci_low < 0.06 AND 0.06 < diff_ci_high AS ci_covers_true_lift,
       diff_ci_low > 0 AS ci_above_zero, excluded_users, srm_flagged
  FROM exp_r1 ORDER BY variant;
-- the same numbers from plain SQL: first exposure's variant, users with two
-- variants out, an outcome in [exposure, exposure + 14 days]
SELECT * FROM avtest.diff(
  $$SELECT variant AS k, concat_ws('|', users, converted, conversion_rate, diff_vs_control, excluded_users) AS v FROM exp_r1$$,
  $$WITH x AS (SELECT uid, min(ts) AS t0, min(variant) AS v, count(DISTINCT variant) AS nv
                 FROM exp_ev WHERE run = 1 AND event = 'exposure' GROUP BY uid),
         c AS (SELECT x.uid, x.v, EXISTS (SELECT FROM exp_ev o WHERE o.run = 1 AND o.event = 'convert' AND o.uid = x.uid
                                           AND o.ts >= x.t0 AND o.ts <= x.t0 + interval '14 days') AS conv
                 FROM x WHERE nv = 1),
         g AS (SELECT v, count(*) AS n, count(*) FILTER (WHERE conv) AS k FROM c GROUP BY v)
    SELECT g.v AS k, concat_ws('|', g.n, g.k, g.k::float8 / g.n,
                          CASE WHEN g.v = 'b' THEN g.k::float8 / g.n - (SELECT a.k::float8 / a.n FROM g a WHERE a.v = 'a') END,
                          (SELECT count(*) FROM x WHERE nv > 1)) AS v
      FROM g$$);
-- p-value and interval are the shared statistics (two_proportion_test, Newcombe)
SELECT r.p_value = t.p_value AND r.diff_ci_low = t.ci_low AND r.diff_ci_high = t.ci_high AS shared_statistics
  FROM exp_r1 r, exp_r1 c, apivalue.two_proportion_test(r.converted, r.users, c.converted, c.users) t
 WHERE r.variant = 'b' AND c.variant = 'a';
-- the contaminated users are exactly the excluded ones
SELECT (SELECT DISTINCT excluded_users FROM exp_r1)
     = (SELECT count(*) FROM (SELECT uid FROM exp_ev WHERE run = 1 AND event = 'exposure'
                               GROUP BY uid HAVING count(DISTINCT variant) > 1) z) AS excluded_match;
-- control by name; the variant as an expression over a jsonb payload
SELECT variant, users, round(diff_vs_control::numeric, 4) AS diff
  FROM apivalue.experiment_report('exp_ev', 'uid', 'ts', $$payload->>'variant'$$,
         $$run = 1 AND event = 'exposure'$$, $$run = 1 AND event = 'convert'$$, control => 'b')
 ORDER BY variant;

-- 2. A/A calibration: no difference, 100 seeded runs of 300 users each.
-- p > 0.01 in at least 95 runs (expected: 99), and the SRM test quiet.
-- First the test itself on known A/A tables: equal rates give p = 1 and an
-- interval symmetric about 0; a small chance difference is not significant.
SELECT diff, p_value, ci_low = -ci_high AS symmetric
  FROM apivalue.two_proportion_test(45, 150, 45, 150);
SELECT round(p_value::numeric, 4) AS p_value, p_value > 0.01 AS not_significant
  FROM apivalue.two_proportion_test(39, 147, 45, 153);
SELECT exp_gen(100 + s, 300, 0.5, 0.3, 0.3, 0, 1000 + s) FROM generate_series(1, 100) s;
CREATE INDEX ON exp_ev (run);
ANALYZE exp_ev;
WITH r AS (
  SELECT s, e.p_value, e.srm_flagged
    FROM generate_series(1, 100) s,
         LATERAL apivalue.experiment_report('exp_ev', 'uid', 'ts', 'variant',
                   format('run = %s AND event = ''exposure''', 100 + s),
                   format('run = %s AND event = ''convert''', 100 + s)) e
   WHERE e.variant = 'b')
SELECT count(*) AS runs, count(*) FILTER (WHERE p_value > 0.01) >= 95 AS calibrated,
       count(*) FILTER (WHERE srm_flagged) <= 1 AS srm_quiet
  FROM r;

-- 3. A broken split: 45/55 over 3000 users is flagged, the comparison withheld;
-- against the right expected split it is not flagged.
SELECT exp_gen(3, 3000, 0.55, 0.3, 0.3, 0, 303);
SELECT variant, users, srm_p_value < 0.001 AS srm_p_small, srm_flagged,
       diff_vs_control, p_value, diff_ci_low
  FROM apivalue.experiment_report('exp_ev', 'uid', 'ts', 'variant',
         $$run = 3 AND event = 'exposure'$$, $$run = 3 AND event = 'convert'$$)
 ORDER BY variant;
SELECT variant, srm_p_value > 0.001 AS srm_p_fine, srm_flagged, p_value IS NOT NULL AS compared
  FROM apivalue.experiment_report('exp_ev', 'uid', 'ts', 'variant',
         $$run = 3 AND event = 'exposure'$$, $$run = 3 AND event = 'convert'$$,
         expected_split => '{0.45,0.55}')
 ORDER BY variant;

-- 4. Hand-made edge cases: conversion at the exposure instant and exactly at
-- the window end count; a second exposure does not move the window; three
-- variants; NULL variants and users are skipped.
CREATE TABLE exp_hand (u text, t timestamp, e text, v text);
INSERT INTO exp_hand VALUES
  ('u1', '2026-05-01 10:00', 'x', 'a'), ('u1', '2026-05-01 10:00', 'o', NULL),           -- converts at t0
  ('u2', '2026-05-01 10:00', 'x', 'a'), ('u2', '2026-05-08 10:00', 'x', 'a'),
  ('u2', '2026-05-15 10:00', 'o', NULL),                                                  -- t0 + 14 days exactly
  ('u3', '2026-05-01 10:00', 'x', 'b'), ('u3', '2026-05-15 10:00:01', 'o', NULL),         -- one second late
  ('u4', '2026-05-01 10:00', 'x', 'c'), ('u4', '2026-05-02 10:00', 'x', 'b'),             -- contaminated
  ('u4', '2026-05-02 11:00', 'o', NULL),
  ('u5', '2026-05-01 10:00', 'x', NULL), (NULL, '2026-05-01 10:00', 'x', 'a'),
  ('u6', '2026-05-03 10:00', 'x', 'c'), ('u6', '2026-05-04 10:00', 'o', NULL);
SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o'$$);
SELECT variant, users, converted, diff_vs_control, excluded_users
  FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o'$$,
                                  conversion_window => '1 day');
-- nobody exposed: no rows
SELECT count(*) FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'none'$$, $$e = 'o'$$);

-- Bad input: SQLSTATE and message
CREATE FUNCTION exp_err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o'$$, control => 'z')$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o'$$, expected_split => '{1,1}')$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o'$$, expected_split => '{1,-1,1}')$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o'$$, expected_split => '{0,0,0}')$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o'$$, conversion_window => '-1 day')$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o'$$, conversion_window => NULL)$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 'e', 'v', $$e = 'x'$$, $$e = 'o'$$)$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'vv', $$e = 'x'$$, $$e = 'o'$$)$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e$$, $$e = 'o'$$)$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$true; DROP TABLE exp_hand$$)$q$);
SELECT exp_err($q$SELECT * FROM apivalue.experiment_report('exp_hand', 'u', 't', 'v', $$e = 'x'$$, $$e = 'o' OR EXISTS (WITH d AS (DELETE FROM exp_hand RETURNING 1) SELECT FROM d)$$)$q$);
SELECT count(*) AS rows_kept FROM exp_hand;

-- 5. The quality check kind experiment_srm watches the split on schedule.
SELECT (apivalue.add_quality_check('exp split ok', 'exp_ev', 'experiment_srm',
  '{"user_column": "uid", "time_column": "ts", "variant": "variant",
    "exposure_condition": "run = 1 AND event = ''exposure''"}', warn_threshold => 2, fail_threshold => 3)).name;
SELECT (apivalue.add_quality_check('exp split broken', 'exp_ev', 'experiment_srm',
  '{"user_column": "uid", "time_column": "ts", "variant": "payload->>''variant''",
    "exposure_condition": "run = 3 AND event = ''exposure''"}', warn_threshold => 2, fail_threshold => 3)).name;
SELECT (apivalue.add_quality_check('exp split as designed', 'exp_ev', 'experiment_srm',
  '{"user_column": "uid", "time_column": "ts", "variant": "variant", "expected_split": "{0.45,0.55}",
    "exposure_condition": "run = 3 AND event = ''exposure''"}', warn_threshold => 2, fail_threshold => 3)).name;
SELECT check_name, status, round(observed::numeric, 2) AS observed
  FROM apivalue.run_quality_checks() ORDER BY check_name;
SELECT check_name, details->'flagged' AS flagged, sample
  FROM apivalue.quality_status WHERE kind = 'experiment_srm' ORDER BY check_name;
SELECT exp_err($q$SELECT apivalue.add_quality_check('bad split', 'exp_ev', 'experiment_srm',
  '{"user_column": "uid", "time_column": "ts", "variant": "variant", "expected_split": "half",
    "exposure_condition": "event = ''exposure''"}', fail_threshold => 3)$q$);
SELECT exp_err($q$SELECT apivalue.add_quality_check('bad variant', 'exp_ev', 'experiment_srm',
  '{"user_column": "uid", "time_column": "ts", "variant": "no_such_column",
    "exposure_condition": "event = ''exposure''"}', fail_threshold => 3)$q$);
SELECT apivalue.drop_quality_check(n) FROM unnest(ARRAY['exp split ok', 'exp split broken', 'exp split as designed']) n;

DROP TABLE exp_ev, exp_hand;
DROP FUNCTION exp_gen(int, int, float8, float8, float8, float8, bigint), exp_u01(bigint, bigint, int), exp_err(text);
