-- title: api_usage by day (normalized endpoints) vs plain SQL (FILTER counts + percentile_cont + lag)
-- The hand-written form is the plain SQL's best: one GROUP BY with FILTER
-- counts, count(DISTINCT) and one percentile_cont over an array of
-- fractions, ids stripped with regexp_replace, lag over the groups.
-- apivalue:
SELECT * FROM apivalue.api_usage('sample.events', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms', 'day')
-- hand:
WITH g AS (
  SELECT date_trunc('day', ts, 'UTC') AS p,
         regexp_replace(lower(endpoint), '/([0-9]+|[0-9a-f]{8,})(?=/|$)', '/{id}', 'g') AS e,
         count(*) AS calls, count(DISTINCT user_id) AS users,
         count(*) FILTER (WHERE status BETWEEN 500 AND 599)::float8 / NULLIF(count(status), 0) AS r5,
         count(*) FILTER (WHERE status BETWEEN 400 AND 499)::float8 / NULLIF(count(status), 0) AS r4,
         percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP (ORDER BY latency_ms) AS pc
    FROM sample.events WHERE endpoint IS NOT NULL
   GROUP BY 1, 2)
SELECT p, e, calls, users, r5, r4, pc[1], pc[2], pc[3],
       CASE WHEN lag(p) OVER w = p - interval '1 day' THEN calls::float8 / lag(calls) OVER w - 1 END
  FROM g WINDOW w AS (PARTITION BY e ORDER BY p)
-- floor:
SELECT endpoint, min(ts), max(ts) FROM sample.events GROUP BY endpoint
