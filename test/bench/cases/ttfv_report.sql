-- title: weekly TTFV report (ttfv_report) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.ttfv_report('sample.events', 'user_id', 'ts',
  $$event = 'signup'$$, $$event = 'first_call'$$, period => 'week');
-- hand:
WITH f AS (SELECT user_id, min(ts) FILTER (WHERE event = 'signup') AS fs FROM sample.events GROUP BY user_id),
t AS (SELECT f.user_id, f.fs, min(e.ts) FILTER (WHERE e.event = 'first_call' AND e.ts >= f.fs) - f.fs AS ttfv
      FROM f JOIN sample.events e USING (user_id) WHERE f.fs IS NOT NULL GROUP BY f.user_id, f.fs)
SELECT date_trunc('week', fs, 'UTC') AS cohort, count(*), count(ttfv), count(ttfv)::float8 / count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ttfv),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY ttfv),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY ttfv)
FROM t GROUP BY 1 ORDER BY 1;
