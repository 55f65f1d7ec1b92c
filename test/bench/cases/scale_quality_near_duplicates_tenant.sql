-- title: near duplicates per tenant within 5 s (near_duplicate_count, event id as fingerprint) vs hand-written SQL
-- apivalue:
SELECT tenant, apivalue.near_duplicate_count(event_id, ts, '5 seconds')
FROM sample.events GROUP BY tenant;
-- hand:
SELECT tenant, count(*) FILTER (WHERE d <= interval '5 seconds')
FROM (SELECT tenant, ts - lag(ts) OVER (PARTITION BY tenant, event_id ORDER BY ts) AS d
      FROM sample.events) e
GROUP BY tenant;
-- floor:
SELECT tenant, min(ts), max(ts) FROM sample.events GROUP BY tenant;
