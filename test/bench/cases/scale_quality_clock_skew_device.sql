-- title: per-device clock skew (clock_skew_summary: median, future share, out of order) vs hand-written SQL
-- apivalue:
SELECT device_id, apivalue.median_offset(s), apivalue.future_share(s), apivalue.out_of_order_count(s)
FROM (SELECT device_id, apivalue.clock_skew_summary(ts, sent_at, received_at) AS s
      FROM sample.events GROUP BY device_id) d;
-- hand:
SELECT device_id, percentile_disc(0.5) WITHIN GROUP (ORDER BY sent_at - received_at),
       avg((ts > received_at)::int), count(*) FILTER (WHERE ts < runmax)
FROM (SELECT device_id, ts, sent_at, received_at,
             max(ts) OVER (PARTITION BY device_id ORDER BY received_at, ts
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS runmax
      FROM sample.events) e
GROUP BY device_id;
-- floor:
SELECT device_id, min(ts), max(ts) FROM sample.events GROUP BY device_id;
