-- title: latency_summary per endpoint vs the scan-and-group floor (and exact plain SQL)
-- The mergeable summary (exact status classes, log-bucket latency
-- histogram) against the floor it must stay near, and the exact plain SQL
-- a user would write for the same numbers (which cannot roll up).
-- apivalue:
SELECT endpoint, apivalue.latency_summary(latency_ms, status) FROM sample.events GROUP BY endpoint
-- hand:
SELECT endpoint, count(*),
       count(*) FILTER (WHERE status BETWEEN 500 AND 599), count(*) FILTER (WHERE status BETWEEN 400 AND 499),
       percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP (ORDER BY latency_ms)
  FROM sample.events GROUP BY endpoint
-- floor:
SELECT endpoint, min(ts), max(ts) FROM sample.events GROUP BY endpoint
