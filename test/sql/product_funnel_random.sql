SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- funnel_report against an independent PL/pgSQL reference on random data:
-- every option alone and in pairs.  The reference takes ordered chains from
-- window_funnel_times (the ClickHouse-compatible aggregate, tested on its
-- own) and does everything else -- optional steps, total counting,
-- any_order, exclusions, attribution, grouping, percentiles -- itself.
\i test/data/diff.sql
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS prr CASCADE;
CREATE SCHEMA prr;
RESET client_min_messages;

-- 4 steps a, b, c, d; exclusion x; breakdown plan changes between events.
CREATE TABLE prr.ev (u int, ts timestamptz, e text, plan text);
SELECT setseed(0.14);
INSERT INTO prr.ev
SELECT u, timestamptz '2024-03-01' + (random() * 180)::int * interval '1 minute',
       (ARRAY['a','b','c','d','x','a','b','c','z'])[1 + floor(random() * 9)::int],
       (ARRAY['free','pro','team'])[1 + floor(random() * 3)::int]
FROM generate_series(1, 80) u, generate_series(1, 1 + (u % 12)) k;
-- a few users with a NULL plan, a NULL time and a NULL user
UPDATE prr.ev SET plan = NULL WHERE u % 17 = 0;
INSERT INTO prr.ev VALUES (NULL, '2024-03-01', 'a', 'free'), (3, NULL, 'a', 'free');

CREATE TEMP TABLE prr_att (att int, step int, ts timestamptz, plan text);
CREATE TEMP TABLE prr_ch (step int, ts timestamptz);

-- The chains of one user as (attempt, step, ts, plan) rows.
CREATE FUNCTION prr.chains(uid int, win interval, modes text, opt int[], ord text, cnt text)
RETURNS TABLE (att int, step int, ts timestamptz, plan text)
LANGUAGE plpgsql AS $$
DECLARE
  letters text[] := ARRAY['a','b','c','d'];
  mand int[] := ARRAY(SELECT k FROM generate_series(1, 4) k WHERE NOT k = ANY (opt));
  times timestamptz[];
  prev timestamptz;
  upper_t timestamptz;
  k int;
  j int;
  r record;
  a int;
  natt int := 0;
  st timestamptz[] := '{}';
  lastk int[] := '{}';
  lastt timestamptz[] := '{}';
  got boolean;
  best_ts timestamptz;
  best_n int := 0;
BEGIN
  IF ord = 'any_order' THEN
    FOR r IN SELECT DISTINCT e1.ts AS s FROM prr.ev e1 WHERE e1.u = uid AND e1.e = ANY (letters) ORDER BY 1 LOOP
      SELECT count(DISTINCT e2.e) INTO j FROM prr.ev e2
      WHERE e2.u = uid AND e2.e = ANY (letters) AND e2.ts BETWEEN r.s AND r.s + win;
      IF j > best_n THEN best_n := j; best_ts := r.s; END IF;
    END LOOP;
    IF best_n = 0 THEN RETURN; END IF;
    RETURN QUERY
      SELECT 1, (row_number() OVER (ORDER BY f.t, f.e))::int, f.t,
             (SELECT min(e3.plan) FROM prr.ev e3 WHERE e3.u = uid AND e3.ts = f.t AND e3.e = f.e)
      FROM (SELECT e2.e, min(e2.ts) AS t FROM prr.ev e2
            WHERE e2.u = uid AND e2.e = ANY (letters) AND e2.ts BETWEEN best_ts AND best_ts + win
            GROUP BY e2.e) f;
    RETURN;
  END IF;
  IF cnt = 'total' THEN
    -- attempts, events in (ts, step) order
    TRUNCATE prr_att;
    FOR r IN SELECT e1.ts, array_position(letters, e1.e) AS k, e1.plan FROM prr.ev e1
             WHERE e1.u = uid AND e1.ts IS NOT NULL AND e1.e = ANY (letters)
             ORDER BY e1.ts, array_position(letters, e1.e), e1.plan LOOP
      IF r.k > 1 THEN
        FOR a IN 1 .. natt LOOP
          IF lastk[a] < 4 AND r.ts - st[a] <= win
             AND (position('strict_increase' IN modes) = 0 OR r.ts > lastt[a]) THEN
            -- usable: next step, or later across optional steps
            got := false;
            FOR j IN lastk[a] + 1 .. 4 LOOP
              IF j = r.k THEN got := true; EXIT; END IF;
              EXIT WHEN NOT j = ANY (opt);
            END LOOP;
            IF got THEN
              lastk[a] := r.k; lastt[a] := r.ts;
              INSERT INTO prr_att VALUES (a, r.k, r.ts, r.plan);
              EXIT;
            END IF;
          END IF;
        END LOOP;
      END IF;
      IF r.k = 1 THEN
        natt := natt + 1;
        st := st || r.ts; lastk := lastk || 1; lastt := lastt || r.ts;
        INSERT INTO prr_att VALUES (natt, 1, r.ts, r.plan);
      END IF;
    END LOOP;
    RETURN QUERY SELECT * FROM prr_att;
    RETURN;
  END IF;
  -- ordered, unique: mandatory chain from window_funnel_times
  EXECUTE format('SELECT apivalue.window_funnel_times($1, $2, ts, %s) FROM prr.ev WHERE u = $3',
                 (SELECT string_agg(format('e = %L', letters[m]), ', ' ORDER BY m) FROM unnest(mand) m))
    INTO times USING win, modes, uid;
  IF cardinality(times) = 0 THEN RETURN; END IF;
  TRUNCATE prr_ch;
  FOR j IN 1 .. cardinality(times) LOOP
    INSERT INTO prr_ch VALUES (mand[j], times[j]);
  END LOOP;
  -- optional steps, greedily in step order
  prev := times[1];
  FOR k IN 2 .. 4 LOOP
    IF NOT k = ANY (opt) THEN
      EXIT WHEN NOT EXISTS (SELECT 1 FROM prr_ch c WHERE c.step = k);
      SELECT c.ts INTO prev FROM prr_ch c WHERE c.step = k;
      CONTINUE;
    END IF;
    SELECT min(c.ts) INTO upper_t FROM prr_ch c
    WHERE c.step = (SELECT min(m) FROM unnest(mand) m WHERE m > k);
    upper_t := coalesce(upper_t, times[1] + win);
    SELECT min(e1.ts) INTO best_ts FROM prr.ev e1
    WHERE e1.u = uid AND e1.e = letters[k] AND e1.ts >= prev AND e1.ts <= upper_t;
    IF best_ts IS NOT NULL THEN
      INSERT INTO prr_ch VALUES (k, best_ts);
      prev := best_ts;
    END IF;
  END LOOP;
  RETURN QUERY
    SELECT 1, c.step, c.ts,
           (SELECT min(e1.plan) FROM prr.ev e1 WHERE e1.u = uid AND e1.ts = c.ts AND e1.e = letters[c.step])
    FROM prr_ch c;
END
$$;

-- The reference report, rendered as (k, v) for avtest.diff.
CREATE FUNCTION prr.reference(win interval, modes text, opt int[], ord text, cnt text,
                              excl boolean, lo int, hi int, attr text)
RETURNS TABLE (k text, v text)
LANGUAGE sql AS $$
  WITH ch AS (
    SELECT u.u, c.* FROM (SELECT DISTINCT u FROM prr.ev WHERE u IS NOT NULL) u,
         LATERAL prr.chains(u.u, win, modes, opt, ord, cnt) c
  ), cs AS (
    SELECT ch.*, lag(ch.ts) OVER (PARTITION BY ch.u, ch.att ORDER BY ch.step) AS prev_ts,
           max(ch.step) OVER (PARTITION BY ch.u, ch.att) AS top,
           min(ch.ts) OVER (PARTITION BY ch.u, ch.att) AS start
    FROM ch
  ), chain AS (
    SELECT cs.u, cs.att, cs.start, cs.top,
           CASE attr WHEN 'first_touch' THEN min(cs.plan) FILTER (WHERE cs.step = 1)
                     WHEN 'last_touch' THEN min(cs.plan) FILTER (WHERE cs.step = cs.top)
                     ELSE min(cs.plan) FILTER (WHERE cs.step::text = substr(attr, 6)) END AS bd,
           excl AND EXISTS (
             SELECT 1 FROM prr.ev x
             WHERE x.u = cs.u AND x.e = 'x'
               AND lo <= max(cs.step)
               AND x.ts > (SELECT c2.ts FROM cs c2 WHERE c2.u = cs.u AND c2.att = cs.att AND c2.step <= lo
                           ORDER BY c2.step DESC LIMIT 1)
               AND CASE WHEN EXISTS (SELECT 1 FROM cs c3 WHERE c3.u = cs.u AND c3.att = cs.att AND c3.step >= hi)
                        THEN x.ts < (SELECT c3.ts FROM cs c3 WHERE c3.u = cs.u AND c3.att = cs.att AND c3.step >= hi
                                     ORDER BY c3.step LIMIT 1)
                        ELSE x.ts <= min(cs.ts) + win END) AS excluded
    FROM cs
    GROUP BY cs.u, cs.att, cs.start, cs.top
  ), g AS (
    SELECT c.bd, s.step, count(*) AS users, count(*) FILTER (WHERE s.step = c.top AND s.step < 4) AS dropped,
           avg(s.ts - s.prev_ts) AS a, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.ts - s.prev_ts) AS m,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY s.ts - s.prev_ts) AS p
    FROM chain c JOIN cs s USING (u, att)
    WHERE NOT c.excluded
    GROUP BY 1, 2
  )
  SELECT coalesce(g.bd, '<null>') || '/' || g.step,
         concat_ws(' ', g.users, g.dropped, g.a, g.m, g.p,
                   (SELECT count(*) FROM chain WHERE excluded))
  FROM g
$$;

CREATE FUNCTION prr.actual(win interval, modes text, opt int[], ord text, cnt text,
                           excl boolean, lo int, hi int, attr text)
RETURNS TABLE (k text, v text)
LANGUAGE sql AS $$
  SELECT coalesce(r.breakdown_value, '<null>') || '/' || r.step,
         concat_ws(' ', r.users, r.dropped_after, r.avg_time_from_previous,
                   r.median_time_from_previous, r.p90_time_from_previous, r.excluded_users)
  FROM apivalue.funnel_report('prr.ev', 'u', 'ts',
         ARRAY[$s$e = 'a'$s$, $s$e = 'b'$s$, $s$e = 'c'$s$, $s$e = 'd'$s$], win,
         mode => modes, optional_steps => opt, step_order => ord, counting => cnt,
         exclusions => CASE WHEN excl THEN ARRAY[$s$e = 'x'$s$] ELSE '{}' END,
         exclusion_steps => CASE WHEN excl THEN ARRAY[int4range(lo, hi, '[]')] END,
         breakdown => 'plan', attribution => attr) r
  WHERE r.users > 0
$$;

CREATE TABLE prr.cases (name text, win interval, modes text, opt int[], ord text, cnt text,
                        excl boolean, lo int, hi int, attr text);
INSERT INTO prr.cases VALUES
  ('plain',                      '1 hour',   '', '{}',    'ordered',   'unique', false, 1, 4, 'first_touch'),
  ('window 0',                   '0',        '', '{}',    'ordered',   'unique', false, 1, 4, 'first_touch'),
  ('strict_increase',            '1 hour',   'strict_increase', '{}', 'ordered', 'unique', false, 1, 4, 'first_touch'),
  ('strict_deduplication',       '1 hour',   'strict_deduplication', '{}', 'ordered', 'unique', false, 1, 4, 'first_touch'),
  ('exclusion whole funnel',     '1 hour',   '', '{}',    'ordered',   'unique', true,  1, 4, 'first_touch'),
  ('exclusion steps 2-3',        '90 min',   '', '{}',    'ordered',   'unique', true,  2, 3, 'first_touch'),
  ('optional 2',                 '1 hour',   '', '{2}',   'ordered',   'unique', false, 1, 4, 'first_touch'),
  ('optional 2,3',               '1 hour',   '', '{2,3}', 'ordered',   'unique', false, 1, 4, 'first_touch'),
  ('optional last',              '1 hour',   '', '{4}',   'ordered',   'unique', false, 1, 4, 'first_touch'),
  ('total',                      '1 hour',   '', '{}',    'ordered',   'total',  false, 1, 4, 'first_touch'),
  ('total strict_increase',      '1 hour',   'strict_increase', '{}', 'ordered', 'total', false, 1, 4, 'first_touch'),
  ('any_order',                  '1 hour',   '', '{}',    'any_order', 'unique', false, 1, 4, 'first_touch'),
  ('last_touch',                 '1 hour',   '', '{}',    'ordered',   'unique', false, 1, 4, 'last_touch'),
  ('step:3',                     '1 hour',   '', '{}',    'ordered',   'unique', false, 1, 4, 'step:3'),
  -- pairs
  ('exclusion x optional',       '1 hour',   '', '{2}',   'ordered',   'unique', true,  1, 3, 'first_touch'),
  ('exclusion 2-4 x optional 3', '2 hours',  '', '{3}',   'ordered',   'unique', true,  2, 4, 'first_touch'),
  ('total x optional',           '1 hour',   '', '{3}',   'ordered',   'total',  false, 1, 4, 'first_touch'),
  ('total x exclusion',          '1 hour',   '', '{}',    'ordered',   'total',  true,  1, 2, 'first_touch'),
  ('total x last_touch',         '1 hour',   '', '{}',    'ordered',   'total',  false, 1, 4, 'last_touch'),
  ('optional x step:2',          '1 hour',   '', '{2}',   'ordered',   'unique', false, 1, 4, 'step:2'),
  ('optional x last_touch',      '1 hour',   '', '{2,4}', 'ordered',   'unique', false, 1, 4, 'last_touch'),
  ('any_order x last_touch',     '1 hour',   '', '{}',    'any_order', 'unique', false, 1, 4, 'last_touch'),
  ('any_order x step:2',         '1 hour',   '', '{}',    'any_order', 'unique', false, 1, 4, 'step:2'),
  ('any_order x exclusion',      '1 hour',   '', '{}',    'any_order', 'unique', true,  1, 3, 'first_touch');

SELECT c.name, d.compared > 0 AS compared, d.mismatches, d.first_mismatch
FROM prr.cases c,
     LATERAL avtest.diff(
       format('SELECT * FROM prr.actual(%L, %L, %L, %L, %L, %L, %s, %s, %L)',
              c.win, c.modes, c.opt, c.ord, c.cnt, c.excl, c.lo, c.hi, c.attr),
       format('SELECT * FROM prr.reference(%L, %L, %L, %L, %L, %L, %s, %s, %L)',
              c.win, c.modes, c.opt, c.ord, c.cnt, c.excl, c.lo, c.hi, c.attr)) d
ORDER BY c.name;

-- the level reached agrees with window_funnel for every user
SELECT count(*) AS users,
       count(*) FILTER (WHERE lvl IS DISTINCT FROM wf) AS mismatches
FROM (SELECT u, apivalue.window_funnel('1 hour', ts, e = 'a', e = 'b', e = 'c', e = 'd') AS wf,
             (SELECT max(p.step) FROM unnest(apivalue._funnel_report_chains(
                 '{1,4,0,3600000000,0,0,0,-2,0}'::bigint[], ts, plan,
                 e = 'a', e = 'b', e = 'c', e = 'd')) p) AS lvl
      FROM prr.ev WHERE u IS NOT NULL GROUP BY u) s
WHERE wf > 0;

SET client_min_messages = warning;
DROP SCHEMA prr CASCADE;
RESET client_min_messages;
