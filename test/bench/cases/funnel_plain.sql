-- title: activation funnel in plain SQL (signup > create_key > first_call > upgrade, 14 days)
-- The query a user writes without apivalue for a per-user 4-step funnel:
-- each step's first time after the previous one, within 14 days of signup.
-- Add an "-- apivalue:" section with apivalue.window_funnel once it lands.
-- hand:
WITH s AS (
  SELECT user_id, min(ts) AS t1 FROM sample.events WHERE event = 'signup' GROUP BY user_id
), k AS (
  SELECT s.user_id, s.t1, min(e.ts) AS t2
  FROM s LEFT JOIN sample.events e
    ON e.user_id = s.user_id AND e.event = 'create_key' AND e.ts > s.t1 AND e.ts <= s.t1 + interval '14 days'
  GROUP BY s.user_id, s.t1
), f AS (
  SELECT k.user_id, k.t1, k.t2, min(e.ts) AS t3
  FROM k LEFT JOIN sample.events e
    ON e.user_id = k.user_id AND e.event = 'first_call' AND e.ts > k.t2 AND e.ts <= k.t1 + interval '14 days'
  GROUP BY k.user_id, k.t1, k.t2
), u AS (
  SELECT f.user_id, f.t1, f.t2, f.t3, min(e.ts) AS t4
  FROM f LEFT JOIN sample.events e
    ON e.user_id = f.user_id AND e.event = 'upgrade' AND e.ts > f.t3 AND e.ts <= f.t1 + interval '14 days'
  GROUP BY f.user_id, f.t1, f.t2, f.t3
)
SELECT user_id, CASE WHEN t4 IS NOT NULL THEN 4 WHEN t3 IS NOT NULL THEN 3 WHEN t2 IS NOT NULL THEN 2 ELSE 1 END AS level
FROM u;
