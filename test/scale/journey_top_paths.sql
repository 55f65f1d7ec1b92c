-- Per-user paths grouped by the distribution column, then the top paths:
-- the inner aggregate runs where the user's rows live.
SELECT path, count(*) AS users
FROM (SELECT user_id, apivalue.journey_path(ts, event, 5) AS path
      FROM {{events}} GROUP BY user_id) p
GROUP BY path ORDER BY users DESC, path LIMIT 10
