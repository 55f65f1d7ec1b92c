-- title: median time from signup to first call (time_to_first_value) vs hand-written SQL
-- Target: within 1.3x of the floor.
-- apivalue:
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t)
FROM (SELECT apivalue.time_to_first_value(ts, event = 'signup', event = 'first_call') AS t
      FROM sample.events GROUP BY user_id) x;
-- hand:
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t)
FROM (SELECT min(e.ts) FILTER (WHERE e.event = 'first_call' AND e.ts >= f.fs) - f.fs AS t
      FROM (SELECT user_id, min(ts) FILTER (WHERE event = 'signup') AS fs
            FROM sample.events GROUP BY user_id) f
      JOIN sample.events e USING (user_id)
      GROUP BY f.user_id, f.fs) x;
