-- pushdown: partial
-- retention() flags summed across users of each tenant.
SELECT tenant, apivalue.sum_arrays(r)
FROM (SELECT user_id, min(tenant) AS tenant,
             apivalue.retention(event = 'signup', event = 'create_key', event = 'first_call') AS r
      FROM {{events}} GROUP BY user_id) u
GROUP BY tenant ORDER BY tenant
