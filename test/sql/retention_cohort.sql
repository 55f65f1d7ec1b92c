-- cohort_retention, lifecycle and stickiness: hand-checked cases, errors,
-- and randomized comparisons with hand-written plain SQL (date_trunc in a
-- fixed zone, Monday weeks).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
\i test/data/diff.sql

CREATE TABLE coh_small (user_id text, ts timestamptz, event text, plan text);
INSERT INTO coh_small VALUES
  ('a', '2024-01-01 10:00', 'signup', 'free'), ('a', '2024-01-09', 'call', 'free'),
  ('a', '2024-01-24', 'call', 'pro'),
  ('b', '2024-01-03', 'call', 'pro'), ('b', '2024-01-04', 'signup', 'pro'),
  ('b', '2024-01-10', 'call', 'pro'),
  ('c', '2024-01-08', 'signup', 'free'), ('c', '2024-01-30', 'call', 'free'),
  ('d', '2024-01-10', 'call', NULL);
-- weeks: Jan 1, 8, 15, 22, 29; the last event is in the week of Jan 29
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', periods => 4);
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', periods => 4,
  mode => 'unbounded', start_condition => $$event = 'signup'$$,
  return_condition => $$event = 'call'$$, segment_column => 'plan');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', mode => 'bracket',
  brackets => '{"[1,2]","[3,4]"}', start_condition => $$event = 'signup'$$);
-- en_US weeks start on Sunday: 31 Dec, 7 Jan, ...; since/until bound the events
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', periods => 2,
  locale => 'en_US', since => '2024-01-02', until => '2024-01-25');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', period => 'month',
  time_zone => 'Pacific/Kiritimati', mode => 'rolling');

-- errors
SELECT * FROM apivalue.cohort_retention('coh_small', 'nope', 'ts');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'event');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', start_condition => 'event');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', return_condition => 'nope = 1');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', start_condition => 'true; DROP TABLE coh_small');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', mode => 'weekly');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', brackets => '{"[1,2]"}');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', mode => 'bracket');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', period => 'fortnight');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', time_zone => 'Nowhere/Land');
SELECT * FROM apivalue.cohort_retention('coh_small', 'user_id', 'ts', periods => -1);
SELECT count(*) AS rows_intact FROM coh_small;

-- lifecycle: per week, new / returning / resurrecting / dormant
SELECT * FROM apivalue.lifecycle('coh_small', 'user_id', 'ts');
SELECT * FROM apivalue.lifecycle('coh_small', 'user_id', 'ts', condition => $$event = 'call'$$,
                                 since => '2024-01-15');
-- stickiness: active days per week
SELECT * FROM apivalue.stickiness('coh_small', 'user_id', 'ts');
SELECT * FROM apivalue.stickiness('coh_small', 'user_id', 'ts', period => 'day', unit => 'week');

-- Randomized comparison of the matrix with hand-written SQL:
-- Europe/Berlin, Monday weeks, across the spring and autumn DST changes.
SELECT setseed(0.77);
CREATE TABLE coh_ev AS
SELECT 'u' || u AS user_id,
       '2024-02-01'::timestamptz + (u % 40) * interval '5 days 7 hours' + (random() ^ 2) * interval '120 days' AS ts,
       (ARRAY['signup', 'call', 'call', 'call', 'error'])[1 + (random() * 4)::int] AS event,
       (ARRAY['free', 'pro', 'team'])[1 + (random() * 2)::int] AS plan
FROM (SELECT (random() * 500)::int AS u FROM generate_series(1, 15000)) x;
ANALYZE coh_ev;

-- classic, cohort by first activity
SELECT * FROM avtest.diff(
  $$SELECT cohort_start::text || ' #' || period_number AS k, cohort_size || ' ' || retained_users AS v
    FROM apivalue.cohort_retention('coh_ev', 'user_id', 'ts', time_zone => 'Europe/Berlin', periods => 8)$$,
  $$WITH f AS (SELECT user_id, date_trunc('week', min(ts), 'Europe/Berlin') AS cw FROM coh_ev GROUP BY user_id),
    a AS (SELECT DISTINCT user_id, date_trunc('week', ts, 'Europe/Berlin') AS w FROM coh_ev),
    lastw AS (SELECT date_trunc('week', max(ts), 'Europe/Berlin') AS lw FROM coh_ev),
    sz AS (SELECT cw, count(*) AS size FROM f GROUP BY cw),
    r AS (SELECT f.cw, round(extract(epoch FROM a.w - f.cw) / 604800)::int AS n, count(*) AS users
          FROM f JOIN a USING (user_id) GROUP BY 1, 2)
    SELECT sz.cw::text || ' #' || gs.k AS k,
           sz.size || ' ' || CASE WHEN gs.k = 0 THEN sz.size ELSE coalesce(r.users, 0) END AS v
    FROM sz CROSS JOIN generate_series(0, 8) AS gs(k) CROSS JOIN lastw
    LEFT JOIN r ON r.cw = sz.cw AND r.n = gs.k
    WHERE round(extract(epoch FROM lastw.lw - sz.cw) / 604800) >= gs.k$$);

-- unbounded, start and return conditions, segment at the start event, bounds
SELECT * FROM avtest.diff(
  $$SELECT coalesce(segment, '-') || ' ' || cohort_start::text || ' #' || period_number AS k,
           cohort_size || ' ' || retained_users AS v
    FROM apivalue.cohort_retention('coh_ev', 'user_id', 'ts', time_zone => 'Europe/Berlin', periods => 6,
      mode => 'unbounded', start_condition => $c$event = 'signup'$c$, return_condition => $c$event = 'call'$c$,
      segment_column => 'plan', since => '2024-03-01', until => '2024-11-01')$$,
  $$WITH e AS (SELECT * FROM coh_ev WHERE ts >= '2024-03-01' AND ts < '2024-11-01'),
    f AS (SELECT DISTINCT ON (user_id) user_id, plan, date_trunc('week', ts, 'Europe/Berlin') AS cw
          FROM e WHERE event = 'signup' ORDER BY user_id, ts, plan COLLATE "C"),
    a AS (SELECT DISTINCT user_id, date_trunc('week', ts, 'Europe/Berlin') AS w FROM e WHERE event = 'call'),
    lastw AS (SELECT date_trunc('week', max(ts), 'Europe/Berlin') AS lw FROM e),
    sz AS (SELECT plan, cw, count(*) AS size FROM f GROUP BY 1, 2),
    um AS (SELECT f.user_id, f.plan, f.cw, max(round(extract(epoch FROM a.w - f.cw) / 604800)::int) AS maxn
           FROM f JOIN a USING (user_id) GROUP BY 1, 2, 3)
    SELECT coalesce(sz.plan, '-') || ' ' || sz.cw::text || ' #' || gs.n AS k,
           sz.size || ' ' || CASE WHEN gs.n = 0 THEN sz.size ELSE count(um.user_id) END AS v
    FROM sz CROSS JOIN generate_series(0, 6) AS gs(n) CROSS JOIN lastw
    LEFT JOIN um ON um.plan IS NOT DISTINCT FROM sz.plan AND um.cw = sz.cw AND um.maxn >= gs.n
    WHERE round(extract(epoch FROM lastw.lw - sz.cw) / 604800) >= gs.n
    GROUP BY sz.plan, sz.cw, sz.size, gs.n$$);

-- bracket, cohort by start event
SELECT * FROM avtest.diff(
  $$SELECT cohort_start::text || ' #' || period_number AS k, cohort_size || ' ' || retained_users AS v
    FROM apivalue.cohort_retention('coh_ev', 'user_id', 'ts', time_zone => 'Europe/Berlin', mode => 'bracket',
      brackets => '{"[1,1]","[2,4]","[5,9]"}', start_condition => $c$event = 'signup'$c$)$$,
  $$WITH f AS (SELECT user_id, date_trunc('week', min(ts), 'Europe/Berlin') AS cw FROM coh_ev WHERE event = 'signup' GROUP BY user_id),
    a AS (SELECT DISTINCT user_id, date_trunc('week', ts, 'Europe/Berlin') AS w FROM coh_ev),
    lastw AS (SELECT date_trunc('week', max(ts), 'Europe/Berlin') AS lw FROM coh_ev),
    un AS (SELECT f.user_id, f.cw, round(extract(epoch FROM a.w - f.cw) / 604800)::int AS n FROM f JOIN a USING (user_id)),
    br AS (SELECT * FROM (VALUES (1, 1, 1), (2, 2, 4), (3, 5, 9)) AS b(i, lo, hi)),
    sz AS (SELECT cw, count(*) AS size FROM f GROUP BY cw)
    SELECT sz.cw::text || ' #' || br.i AS k,
           sz.size || ' ' || (SELECT count(DISTINCT un.user_id) FROM un WHERE un.cw = sz.cw AND un.n BETWEEN br.lo AND br.hi) AS v
    FROM sz CROSS JOIN br CROSS JOIN lastw
    WHERE round(extract(epoch FROM lastw.lw - sz.cw) / 604800) >= br.lo
    UNION ALL
    SELECT sz.cw::text || ' #0', sz.size || ' ' || sz.size FROM sz$$);

-- lifecycle vs plain SQL (weeks in Berlin)
SELECT * FROM avtest.diff(
  $$SELECT period_start::text || ' ' || status AS k, users::text AS v
    FROM apivalue.lifecycle('coh_ev', 'user_id', 'ts', time_zone => 'Europe/Berlin', condition => $c$event <> 'error'$c$)$$,
  $$WITH a AS (SELECT DISTINCT user_id, date_trunc('week', ts, 'Europe/Berlin') AS w FROM coh_ev WHERE event <> 'error'),
    f AS (SELECT user_id, min(w) AS fw FROM a GROUP BY user_id),
    weeks AS (SELECT DISTINCT w FROM a),
    lastw AS (SELECT max(w) AS lw FROM a),
    st AS (
      SELECT a.w, CASE WHEN a.w = f.fw THEN 'new'
                       WHEN p.user_id IS NOT NULL THEN 'returning'
                       ELSE 'resurrecting' END AS status
      FROM a JOIN f USING (user_id)
      LEFT JOIN a p ON p.user_id = a.user_id
                   AND p.w = date_trunc('week', a.w - interval '3 days', 'Europe/Berlin')
      UNION ALL
      SELECT n.w, 'dormant'
      FROM a p CROSS JOIN LATERAL (SELECT date_trunc('week', p.w + interval '7 days 12 hours', 'Europe/Berlin') AS w) n
      CROSS JOIN lastw
      LEFT JOIN a c ON c.user_id = p.user_id AND c.w = n.w
      WHERE n.w <= lastw.lw AND c.user_id IS NULL)
    SELECT w::text || ' ' || status AS k, count(*)::text AS v FROM st GROUP BY w, status$$);

-- stickiness vs plain SQL (active days per ISO week in New York)
SELECT * FROM avtest.diff(
  $$SELECT period_start::text || ' ' || active_units AS k, users || ' ' || round(share::numeric, 6) AS v
    FROM apivalue.stickiness('coh_ev', 'user_id', 'ts', time_zone => 'America/New_York')$$,
  $$WITH pu AS (SELECT date_trunc('week', ts, 'America/New_York') AS w, user_id,
                       count(DISTINCT date_trunc('day', ts, 'America/New_York')) AS d
                FROM coh_ev GROUP BY 1, 2)
    SELECT w::text || ' ' || d AS k,
           count(*) || ' ' || round(count(*)::numeric / sum(count(*)) OVER (PARTITION BY w), 6) AS v
    FROM pu GROUP BY w, d$$);

DROP TABLE coh_small, coh_ev;
