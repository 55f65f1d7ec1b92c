-- title: weekly cohort retention, 12 weeks (cohort_retention) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.cohort_retention('sample.events', 'user_id', 'ts', 'week', 12);
-- hand:
WITH f AS (SELECT user_id, date_trunc('week', min(ts), 'UTC') AS cohort FROM sample.events GROUP BY user_id),
a AS (SELECT DISTINCT e.user_id, f.cohort,
             ((date_trunc('week', e.ts, 'UTC')::date - f.cohort::date) / 7) AS k
      FROM sample.events e JOIN f USING (user_id))
SELECT cohort, k, count(*) FROM a WHERE k BETWEEN 0 AND 12 GROUP BY 1, 2;
