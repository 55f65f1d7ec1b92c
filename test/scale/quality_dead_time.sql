-- pushdown: partial
SELECT apivalue.dead_time(ts, '1 hour'), apivalue.longest_gap(apivalue.dead_time_summary(ts, '1 hour'))
FROM {{events}}
