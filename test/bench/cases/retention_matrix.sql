-- title: weekly cohort retention matrix, 12 periods (cohort_retention vs hand-written SQL)
-- Target: cohort_retention at least 4x faster than the hand-written matrix
-- (date_trunc of first activity, DISTINCT user-week, join, group).
-- apivalue:
SELECT * FROM apivalue.cohort_retention('sample.events', 'user_id', 'ts', period => 'week', periods => 12);
-- hand:
WITH f AS (SELECT user_id, date_trunc('week', min(ts), 'UTC') AS cw FROM sample.events GROUP BY user_id),
a AS (SELECT DISTINCT user_id, date_trunc('week', ts, 'UTC') AS w FROM sample.events),
r AS (SELECT f.cw, round(extract(epoch FROM a.w - f.cw) / 604800)::int AS n, count(*) AS users
      FROM f JOIN a USING (user_id) GROUP BY 1, 2),
sz AS (SELECT cw, count(*) AS size FROM f GROUP BY cw)
SELECT r.cw, sz.size, r.n, r.users, r.users::float8 / sz.size
FROM r JOIN sz USING (cw) WHERE r.n BETWEEN 0 AND 12 ORDER BY 1, 3;
