-- pushdown: partial
SELECT device_id, apivalue.median_offset(s), apivalue.future_share(s), apivalue.out_of_order_count(s)
FROM (SELECT device_id, apivalue.clock_skew_summary(ts, sent_at, received_at) AS s
      FROM {{events}} GROUP BY device_id) d
ORDER BY device_id
