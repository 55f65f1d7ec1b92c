-- pushdown: full
SELECT user_id, apivalue.behavior_counts(ts, event, '7 days'),
       apivalue.driver_features(ts, event, event = 'upgrade', status >= 500, latency_ms::float8,
                                '7 days', NULL, 1, 1, 800, false, NULL)
FROM {{events}} GROUP BY user_id ORDER BY user_id
