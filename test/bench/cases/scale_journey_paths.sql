-- title: top journey paths (journey_path, 5 steps, repeats collapsed) vs hand-written SQL
-- apivalue:
SELECT path, count(*) AS users
FROM (SELECT apivalue.journey_path(ts, event, 5) AS path FROM sample.events GROUP BY user_id) p
GROUP BY path ORDER BY users DESC LIMIT 20;
-- hand:
SELECT path, count(*) AS users
FROM (SELECT (array_agg(event ORDER BY ts, event))[1:5] AS path
      FROM (SELECT user_id, ts, event, lag(event) OVER (PARTITION BY user_id ORDER BY ts, event) AS prev
            FROM sample.events) o
      WHERE prev IS DISTINCT FROM event
      GROUP BY user_id) p
GROUP BY path ORDER BY users DESC LIMIT 20;
