-- ttfv_report and cohort_retention on the sample data set match plain SQL.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
\set ECHO none
\i test/data/sample.sql
\i test/data/diff.sql
\set ECHO all
SELECT sample.generate(users => 300, seed => 42) > 0 AS generated;

-- Activation: signup to first_call, weekly cohorts in Berlin, by plan at
-- signup; users whose signup or first call arrived more than an hour after
-- (or before) its device time are left out.
SELECT * FROM avtest.diff(
  $$SELECT coalesce(segment, '-') || ' ' || cohort_start AS k,
           concat_ws(' ', users_started, users_reached, round(activation_rate::numeric, 9),
                     p50, p75, p90, excluded_users) AS v
    FROM apivalue.ttfv_report('sample.events', 'user_id', 'ts',
      $c$event = 'signup'$c$, $c$event = 'first_call'$c$, within => '30 days',
      segment_column => 'plan_tier', time_zone => 'Europe/Berlin',
      timestamp_check => $c$received_at - ts BETWEEN interval '-1 hour' AND interval '1 hour'$c$)$$,
  $$WITH f AS (
      SELECT user_id, min(ts) FILTER (WHERE event = 'signup') AS fs,
             bool_or(NOT coalesce(received_at - ts BETWEEN interval '-1 hour' AND interval '1 hour', false))
               FILTER (WHERE event IN ('signup', 'first_call')) AS bad
      FROM sample.events GROUP BY user_id),
    seg AS (SELECT DISTINCT ON (user_id) user_id, plan_tier FROM sample.events WHERE event = 'signup'
            ORDER BY user_id, ts, plan_tier COLLATE "C"),
    v AS (SELECT f.user_id, min(e.ts) - f.fs AS t
          FROM f JOIN sample.events e ON e.user_id = f.user_id AND e.event = 'first_call' AND e.ts >= f.fs
          GROUP BY f.user_id, f.fs),
    pu AS (SELECT f.user_id, seg.plan_tier, date_trunc('week', f.fs, 'Europe/Berlin') AS cw,
                  coalesce(f.bad, false) AS bad,
                  CASE WHEN v.t <= interval '30 days' THEN v.t END AS ttfv
           FROM f JOIN seg USING (user_id) LEFT JOIN v USING (user_id))
    SELECT coalesce(plan_tier, '-') || ' ' || cw AS k,
           concat_ws(' ', count(*) FILTER (WHERE NOT bad), count(ttfv) FILTER (WHERE NOT bad),
                     round(count(ttfv) FILTER (WHERE NOT bad)::numeric / nullif(count(*) FILTER (WHERE NOT bad), 0), 9),
                     percentile_cont(0.5) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
                     percentile_cont(0.75) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
                     percentile_cont(0.9) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
                     count(*) FILTER (WHERE bad)) AS v
    FROM pu GROUP BY plan_tier, cw$$);
-- the totals, so the comparison is not vacuous
SELECT sum(users_started) AS started, sum(users_reached) AS reached, sum(excluded_users) AS excluded
FROM apivalue.ttfv_report('sample.events', 'user_id', 'ts', $$event = 'signup'$$, $$event = 'first_call'$$,
  within => '30 days', timestamp_check => $$received_at - ts BETWEEN interval '-1 hour' AND interval '1 hour'$$);

-- Retention: weekly cohorts of signups in Berlin, returning with an api_call.
SELECT * FROM avtest.diff(
  $$SELECT cohort_start::text || ' #' || period_number AS k, cohort_size || ' ' || retained_users AS v
    FROM apivalue.cohort_retention('sample.events', 'user_id', 'ts', periods => 8, time_zone => 'Europe/Berlin',
      start_condition => $c$event = 'signup'$c$, return_condition => $c$event = 'api_call'$c$)$$,
  $$WITH f AS (SELECT user_id, date_trunc('week', min(ts), 'Europe/Berlin') AS cw
               FROM sample.events WHERE event = 'signup' GROUP BY user_id),
    a AS (SELECT DISTINCT user_id, date_trunc('week', ts, 'Europe/Berlin') AS w FROM sample.events WHERE event = 'api_call'),
    lastw AS (SELECT date_trunc('week', max(ts), 'Europe/Berlin') AS lw FROM sample.events),
    sz AS (SELECT cw, count(*) AS size FROM f GROUP BY cw),
    r AS (SELECT f.cw, round(extract(epoch FROM a.w - f.cw) / 604800)::int AS n, count(*) AS users
          FROM f JOIN a USING (user_id) GROUP BY 1, 2)
    SELECT sz.cw::text || ' #' || gs.k AS k,
           sz.size || ' ' || CASE WHEN gs.k = 0 THEN sz.size ELSE coalesce(r.users, 0) END AS v
    FROM sz CROSS JOIN generate_series(0, 8) AS gs(k) CROSS JOIN lastw
    LEFT JOIN r ON r.cw = sz.cw AND r.n = gs.k
    WHERE round(extract(epoch FROM lastw.lw - sz.cw) / 604800) >= gs.k$$);
