-- pushdown: partial
SELECT tenant, apivalue.dead_time_summary(ts, '30 minutes'), apivalue.dead_time(ts, '2 hours')
FROM {{events}} GROUP BY tenant ORDER BY tenant
