-- Randomized differential test: window_funnel (every mode combination, three
-- windows, three time types), window_funnel_times, retention and
-- funnel_counts against independent references on generated data with ties,
-- duplicate rows, rows matching several conditions, NULLs and shuffled input.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

-- 300 users, 0-30 rows each over 60 time units, so equal timestamps are
-- common; events A-D and X (no condition) and NULLs; c2 also holds for some
-- A rows and c4 for some C rows (rows matching two conditions); 10 % of the
-- rows duplicated.  Inserted in random order.
SELECT setseed(0.42);
CREATE TABLE fr_events AS
WITH base AS (
  SELECT u, (random() * 60)::int::bigint AS t,
         (ARRAY['A','B','C','D','X','A','B','C', NULL])[1 + floor(random() * 9)::int] AS e,
         random() < 0.25 AS flag
  FROM generate_series(1, 300) u, generate_series(1, (random() * 30)::int) i
), dup AS (
  SELECT * FROM base UNION ALL SELECT * FROM base WHERE random() < 0.1
)
SELECT u, CASE WHEN random() < 0.03 THEN NULL ELSE t END AS t, e, flag
FROM dup ORDER BY random();
-- the conditions as columns (NULL when e is NULL)
CREATE VIEW fr_cond AS
SELECT u, t, e = 'A' AS c1, e = 'B' OR (e = 'A' AND flag) AS c2, e = 'C' AS c3,
       e = 'D' OR (e = 'C' AND flag) AS c4
FROM fr_events;
SELECT count(*) AS rows, count(DISTINCT u) AS users, count(*) - count(t) AS null_ts,
       count(*) FILTER (WHERE c2 AND c1) + count(*) FILTER (WHERE c4 AND c3) AS multi_condition_rows
FROM fr_cond;
SELECT count(*) AS tied_timestamps FROM (
  SELECT u, t FROM fr_events WHERE t IS NOT NULL GROUP BY u, t HAVING count(*) > 1) s;

-- Reference: ClickHouse's slot algorithm written from clickhouse-semantics.md,
-- over ClickHouse's own representation: one (t, k) entry per true condition k,
-- k = 0 for rows matching none (kept in strict_order only), ordered by (t, k).
-- Returns the level and the step times of the first chain to reach it.
CREATE FUNCTION fr_ref(ts bigint[], ks int[], win bigint, modes text, n int,
                       OUT level int, OUT times bigint[])
LANGUAGE plpgsql AS $$
DECLARE
  dedup bool := modes LIKE '%strict_deduplication%';
  ord bool := modes LIKE '%strict_order%';
  incr bool := modes LIKE '%strict_increase%';
  reentry bool := modes LIKE '%allow_reentry%';
  s_first bigint[] := array_fill(NULL::bigint, ARRAY[n]);   -- slot k: chain start
  s_last bigint[] := array_fill(NULL::bigint, ARRAY[n]);    -- slot k: last step time
  s_path text[] := array_fill(NULL::text, ARRAY[n]);        -- slot k: step times
  best text := NULL;
  started bool := false;
  k int; t bigint;
BEGIN
  FOR i IN 1 .. coalesce(array_length(ts, 1), 0) LOOP
    k := ks[i]; t := ts[i];
    IF k = 0 THEN
      -- strict_order: an unrelated event after the first c1 ends the search
      EXIT WHEN started;
      CONTINUE;
    END IF;
    IF k = 1 THEN
      s_first[1] := t; s_last[1] := t; s_path[1] := t::text; started := true;
      best := coalesce(best, s_path[1]);
      EXIT WHEN n = 1;
    ELSIF dedup AND s_first[k] IS NOT NULL THEN
      EXIT;                                   -- repeated step: stop
    ELSIF ord AND started AND s_first[k - 1] IS NULL THEN
      CONTINUE WHEN reentry;                  -- step out of order
      EXIT;
    ELSIF s_first[k - 1] IS NOT NULL AND t <= s_first[k - 1] + win
          AND (NOT incr OR s_last[k - 1] < t) THEN
      IF s_first[k] IS NULL THEN
        best := s_path[k - 1] || ',' || t;    -- first chain to reach level k
      END IF;
      s_first[k] := s_first[k - 1]; s_last[k] := t;
      s_path[k] := s_path[k - 1] || ',' || t;
      EXIT WHEN k = n;
    END IF;
  END LOOP;
  level := 0;
  FOR j IN 1 .. n LOOP
    IF s_first[j] IS NOT NULL THEN level := j; END IF;
  END LOOP;
  times := coalesce(string_to_array(best, ',')::bigint[], '{}');
END $$;

CREATE TABLE fr_modes (modes text);
INSERT INTO fr_modes VALUES (''), ('strict_deduplication'), ('strict_order'), ('strict_increase'),
  ('strict_deduplication,strict_order'), ('strict_deduplication,strict_increase'),
  ('strict_order,strict_increase'), ('strict_deduplication,strict_order,strict_increase'),
  ('strict_order,allow_reentry'), ('strict_deduplication,strict_order,allow_reentry'),
  ('strict_order,strict_increase,allow_reentry'),
  ('strict_deduplication,strict_order,strict_increase,allow_reentry');
-- (number of conditions, window) pairs tested
CREATE TABLE fr_params (n int, win bigint);
INSERT INTO fr_params VALUES (4, 0), (4, 7), (4, 30), (1, 7), (2, 7);

-- ClickHouse's entries for the first n conditions: one per true condition,
-- and k = 0 for a row matching none of them.
CREATE TABLE fr_entries AS
SELECT p.n, e.u, e.t, v.k
FROM (SELECT DISTINCT n FROM fr_params) p, fr_cond e,
     LATERAL (VALUES (1, c1), (2, c2), (3, c3), (4, c4)) v(k, c)
WHERE v.k <= p.n AND v.c AND e.t IS NOT NULL
UNION ALL
SELECT p.n, e.u, e.t, 0
FROM (SELECT DISTINCT n FROM fr_params) p, fr_cond e
WHERE e.t IS NOT NULL
  AND NOT coalesce(c1, false) AND (p.n < 2 OR NOT coalesce(c2, false))
  AND (p.n < 3 OR NOT coalesce(c3, false)) AND (p.n < 4 OR NOT coalesce(c4, false));

-- the reference's answer for every user, parameter pair and mode
CREATE TABLE fr_expected AS
SELECT p.n, p.win, m.modes, us.u, coalesce((r.res).level, 0) AS level,
       coalesce((r.res).times, '{}') AS times
FROM fr_params p CROSS JOIN fr_modes m CROSS JOIN (SELECT DISTINCT u FROM fr_events) us
LEFT JOIN (
  SELECT p.n, p.win, m.modes, e.u,
         fr_ref(array_agg(e.t ORDER BY e.t, e.k), array_agg(e.k ORDER BY e.t, e.k),
                p.win, m.modes, p.n) AS res
  FROM fr_params p CROSS JOIN fr_modes m JOIN fr_entries e ON e.n = p.n
  WHERE e.k > 0 OR m.modes LIKE '%strict_order%'
  GROUP BY p.n, p.win, m.modes, e.u) r USING (n, win, modes, u);

CREATE FUNCTION fr_ref_query(win bigint, modes text, n int, what text) RETURNS text
LANGUAGE sql AS $$
  SELECT format('SELECT u::text AS k, %s::text AS v FROM fr_expected WHERE n = %s AND win = %s AND modes = %L',
                what, n, win, modes)
$$;

CREATE FUNCTION fr_query(kind text, win bigint, modes text, conds text, agg text DEFAULT 'window_funnel')
RETURNS text LANGUAGE sql AS $$
  SELECT format('SELECT u::text AS k, apivalue.%s(%s, %L, %s, %s)::text AS v FROM fr_cond GROUP BY u',
    agg,
    CASE kind WHEN 'bigint' THEN win::text ELSE format('make_interval(secs => %s)', win) END,
    modes,
    CASE kind WHEN 'timestamptz' THEN 'to_timestamp(t)'
              WHEN 'timestamp' THEN '(to_timestamp(t) AT TIME ZONE ''UTC'')' ELSE 't' END,
    conds)
$$;

-- window_funnel, 4 conditions: 12 mode combinations x 3 windows x 3 types
SELECT m.modes, sum(d.compared) AS compared, sum(d.mismatches) AS mismatches, min(d.first_mismatch) AS first_mismatch
FROM fr_modes m
CROSS JOIN (VALUES (0), (7), (30)) w(win)
CROSS JOIN (VALUES ('bigint'), ('timestamptz'), ('timestamp')) ty(kind)
CROSS JOIN LATERAL avtest.diff(fr_query(ty.kind, w.win, m.modes, 'c1, c2, c3, c4'),
                               fr_ref_query(w.win, m.modes, 4, 'level')) d
GROUP BY m.modes ORDER BY m.modes;

-- fewer conditions (1 and 2), every mode, window 7
SELECT n, sum(d.compared) AS compared, sum(d.mismatches) AS mismatches, min(d.first_mismatch) AS first_mismatch
FROM fr_modes m
CROSS JOIN (VALUES (1, 'c1'), (2, 'c1, c2')) c(n, conds)
CROSS JOIN LATERAL avtest.diff(fr_query('bigint', 7, m.modes, c.conds),
                               fr_ref_query(7, m.modes, c.n, 'level')) d
GROUP BY n ORDER BY n;

-- window_funnel_times: the same chain's step times as the reference, and
-- cardinality(window_funnel_times) = window_funnel for every user and mode
SELECT m.modes, d.compared, d.mismatches, d.first_mismatch
FROM fr_modes m
CROSS JOIN LATERAL avtest.diff(fr_query('bigint', 7, m.modes, 'c1, c2, c3, c4', 'window_funnel_times'),
                               fr_ref_query(7, m.modes, 4, 'times')) d
ORDER BY m.modes;
SELECT m.modes, d.compared, d.mismatches, d.first_mismatch
FROM fr_modes m
CROSS JOIN LATERAL avtest.diff(
  format($q$SELECT u::text AS k, cardinality(apivalue.window_funnel_times('7 seconds', %L, to_timestamp(t), c1, c2, c3, c4))::text AS v
            FROM fr_cond GROUP BY u$q$, m.modes),
  fr_query('timestamptz', 7, m.modes, 'c1, c2, c3, c4')) d
ORDER BY m.modes;

-- retention against plain SQL (element k: c1 and ck both held somewhere)
SELECT * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.retention(c1, c2, c3, c4)::text AS v FROM fr_cond GROUP BY u$$,
  $$SELECT u::text AS k, ARRAY[b1, b1 AND b2, b1 AND b3, b1 AND b4]::int[]::text AS v
    FROM (SELECT u, coalesce(bool_or(c1), false) AS b1, coalesce(bool_or(c2), false) AS b2,
                 coalesce(bool_or(c3), false) AS b3, coalesce(bool_or(c4), false) AS b4
          FROM fr_cond GROUP BY u) s$$);

-- funnel_counts against plain SQL, per tied-timestamp bucket of users
SELECT * FROM avtest.diff(
  $$SELECT (u % 5)::text AS k, apivalue.funnel_counts(l, 4)::text AS v
    FROM (SELECT u, apivalue.window_funnel(7, t, c1, c2, c3, c4) AS l FROM fr_cond GROUP BY u) s
    GROUP BY u % 5$$,
  $$SELECT (u % 5)::text AS k, ARRAY[count(*) FILTER (WHERE l >= 1), count(*) FILTER (WHERE l >= 2),
                                     count(*) FILTER (WHERE l >= 3), count(*) FILTER (WHERE l >= 4)]::text AS v
    FROM (SELECT u, apivalue.window_funnel(7, t, c1, c2, c3, c4) AS l FROM fr_cond GROUP BY u) s
    GROUP BY u % 5$$);

-- the answers do not depend on input order: sorted, reversed, shuffled
SELECT m.modes, d.compared, d.mismatches
FROM fr_modes m
CROSS JOIN LATERAL avtest.diff(
  format($q$SELECT u::text AS k, apivalue.window_funnel(7, %L, t, c1, c2, c3, c4 ORDER BY t DESC, c1 DESC)::text AS v
            FROM fr_cond GROUP BY u$q$, m.modes),
  format($q$SELECT u::text AS k, apivalue.window_funnel(7, %L, t, c1, c2, c3, c4 ORDER BY t, c4)::text AS v
            FROM fr_cond GROUP BY u$q$, m.modes)) d
ORDER BY m.modes;

-- the level distribution, so a reader sees the data exercised every level
SELECT l AS level, count(*) AS users
FROM (SELECT u, apivalue.window_funnel(7, t, c1, c2, c3, c4) AS l FROM fr_cond GROUP BY u) s
GROUP BY l ORDER BY l;

DROP FUNCTION fr_query(text, bigint, text, text, text);
DROP FUNCTION fr_ref_query(bigint, text, int, text);
DROP FUNCTION fr_ref(bigint[], int[], bigint, text, int);
DROP VIEW fr_cond;
DROP TABLE fr_events, fr_modes, fr_params, fr_entries, fr_expected;
