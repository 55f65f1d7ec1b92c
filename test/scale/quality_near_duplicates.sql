-- pushdown: partial
SELECT tenant, apivalue.near_duplicate_count(concat_ws('|', user_id, event, endpoint, payload::text), ts, '5 seconds')
FROM {{events}} GROUP BY tenant ORDER BY tenant
